"""`podbrief today`: run what is new through fetch -> transcribe -> extract -> rank and store the brief.

Only unfinished work is done, and only for episodes in the window: an episode is in
it when it was published, or first seen by podbrief, between `since` and `until`
(so a feed added today contributes its latest episodes even if they are a week old).
Every episode problem in the window (a failed stage, a corrupt insight file) and every
feed that failed this run is listed in the brief; the brief is made from the rest.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from podbrief import briefs, deliver, render, subscriptions
from podbrief.briefs import BriefItem, RelatedInsight
from podbrief.config import Config
from podbrief.errors import DeliveryError, InputError, NothingNew, PartialFailure, UsageError
from podbrief.formats import insights as insight_files
from podbrief.formats.documents import INSIGHTS
from podbrief.formats.insights import Insight
from podbrief.progress import Reporter
from podbrief.stages import Budget, StageReport, fetch, polish, rank
from podbrief.store import Index, Paths, run_lock

NO_FEEDS = ("no subscriptions yet: add a podcast with `podbrief add FEED_URL` (or `podbrief import FILE.opml`), "
            "or try the offline demo: `podbrief demo`")
_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Window:
    """The brief's date (local) and the UTC interval whose episodes it considers."""

    date: dt.date
    since: dt.datetime
    until: dt.datetime

    def contains(self, stamp: str | None) -> bool:
        moment = _parse_utc(stamp) if stamp else None
        return moment is not None and self.since <= moment <= self.until

    def to_json(self) -> dict[str, str]:
        return {"since": _iso(self.since), "until": _iso(self.until)}


def _parse_utc(stamp: str) -> dt.datetime | None:
    """The moment an ISO 8601 stamp names; None for one that is not (an older podbrief stored
    a pubDate before year 1000 as "1-01-01T00:00:00Z")."""
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()).astimezone()


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def window(now: dt.datetime, since_days: float, date: str | None = None, since: str | None = None) -> Window:
    """The window for `--date YYYY-MM-DD` (default: today) and `--since YYYY-MM-DD|12h|3d|2w`.

    It ends at the end of that day (so episodes this run discovers are in it) and starts at
    `since`: a date, or a duration (default: `brief.since_days` days) back from now for
    today, from the end of the day for an earlier date.
    """
    today = now.astimezone().date()
    day = parse_date(date) if date else today
    if day > today:
        raise UsageError(f"--date: {day.isoformat()} is in the future")
    until = _local_midnight(day + dt.timedelta(days=1))
    anchor = now if day == today else until
    if since is None:
        start = anchor - dt.timedelta(days=since_days)
    elif match := _DURATION.match(since.strip()):
        try:
            start = anchor - dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:
            raise UsageError(f"--since: {since} reaches back before year 1") from None
    else:
        try:
            start = _local_midnight(dt.date.fromisoformat(since))
        except ValueError:
            raise UsageError(f"--since: expected YYYY-MM-DD or a duration like 12h, 3d, 2w; got {since!r}") from None
    if start >= anchor:
        raise UsageError(f"--since: {_iso(start)} is not before {_iso(anchor)}")
    return Window(day, start.astimezone(dt.timezone.utc), until.astimezone(dt.timezone.utc))


def _lazy(module: str, function: str) -> Callable[..., Any]:
    """Import a stage on first call: the ASR and LLM libraries take seconds to import,
    and a run with nothing new must not pay for that."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"podbrief.stages.{module}"), function)(*args, **kwargs)

    return call


@dataclass(frozen=True)
class Pipeline:
    """The stages `today` drives after fetch (tests substitute fakes)."""

    transcribe: Callable[..., StageReport] = _lazy("transcribe", "run_pending")
    extract: Callable[..., StageReport] = _lazy("extract", "run_pending")
    rank: Callable[..., list[BriefItem]] = rank.rank
    polish: Callable[..., tuple[list[BriefItem], Any]] = _lazy("polish", "run")


POLISH_SPARE = 3  # finalists ranked beyond rank.top, promoted when polish finds one unfaithful


def _problem(stage: str, error: str | None, title: str | None, **ids: str) -> dict[str, Any]:
    return {"stage": stage, **ids, "title": title, "error": error}


def _remaining(reports: list[StageReport]) -> dict[str, int]:
    return {report.stage: report.remaining for report in reports}


def run(paths: Paths, config: Config, reporter: Reporter, when: Window, budget: Budget = Budget(),
        now: dt.datetime | None = None, pipeline: Pipeline | None = None) -> briefs.Brief:
    """Bring the window's episodes up to date, rank their insights and store the brief.

    Raises NothingNew when every episode in the window that has insights (as extracted
    now) was already a source of a stored brief (PartialFailure instead if something
    failed); the caller prints and delivers the returned brief.
    """
    deliver.check(config)  # a delivery misconfiguration should fail now, not after an hour of work
    now = now or dt.datetime.now(dt.timezone.utc)
    pipeline = pipeline or Pipeline()
    with run_lock(paths):
        if not subscriptions.records(paths):
            raise NothingNew(NO_FEEDS)
        fetched = fetch.run_pending(paths, config, reporter, budget)
        reports: list[StageReport] = [fetched]
        for stage, run_stage in (("transcribe", pipeline.transcribe), ("extract", pipeline.extract)):
            with Index(paths) as index:
                pending = [row["id"] for row in index.pending(stage) if _in_window(row, when)]
            if pending:
                polish.check(config, paths)  # a missing polish model fails before the heavy work, not after it
                reports.append(run_stage(paths, config, reporter, budget, episode_ids=pending))
        with Index(paths) as index:
            episodes = [row for row in index.episodes() if _in_window(row, when)]
        insights, used, problems = _gather(paths, episodes)
        problems = [_problem("fetch", result.error, result.title or result.url, feed_id=result.id)
                    for result in fetched.feed_errors] + problems
        for problem in problems:
            reporter.say("problem", render.problem_line(problem))
        known = briefs.sources(paths)
        if all((source["episode_id"], source["extracted_at"]) in known for source in used):
            raise _nothing_new(paths, when, len(episodes), len(insights), problems, _remaining(reports))
        finalists = pipeline.rank(insights, config, paths, now, date=when.date, spare=POLISH_SPARE)
        items, _ = pipeline.polish(finalists, config, paths, reporter, budget)
        brief = {
            "schema": briefs.SCHEMA, "date": when.date.isoformat(), "created": _iso(now),
            "window": when.to_json(), "sources": used,
            "items": [_without_context(item) for item in items],
            "problems": problems, "remaining": _remaining(reports),
        }
        briefs.save(paths, brief)
    return brief


AnyInsight = TypeVar("AnyInsight", Insight, RelatedInsight)


def _without_context(item: BriefItem) -> BriefItem:
    """A brief item without the extraction context its insight carries (the answer it came from):
    polish needs it, the reader does not."""
    def strip(insight: AnyInsight) -> AnyInsight:
        return cast(AnyInsight, {key: value for key, value in insight.items() if key != "context"})

    return {**item, "insight": strip(item["insight"]), "related": [strip(r) for r in item.get("related") or []]}


def _in_window(row: sqlite3.Row, when: Window) -> bool:
    return when.contains(row["published"]) or when.contains(row["discovered_at"])


def _gather(paths: Paths, episodes: list[sqlite3.Row]) -> tuple[list[Insight], list[dict[str, str]],
                                                                list[dict[str, Any]]]:
    """The insights of the extracted episodes, the brief's sources, and a problem per failed episode."""
    insights: list[Insight] = []
    used: list[dict[str, str]] = []
    problems: list[dict[str, Any]] = []
    for row in episodes:
        if row["extracted_at"]:
            try:
                found = insight_files.read(paths.episode_file(row["id"], INSIGHTS))
            except InputError as exc:
                problems.append(_problem("extract", str(exc), row["title"], episode_id=row["id"]))
                continue
            if found:
                insights += found
                used.append({"episode_id": row["id"], "extracted_at": row["extracted_at"]})
        elif row["failed_stage"]:
            problems.append(_problem(row["failed_stage"], row["error"], row["title"], episode_id=row["id"]))
    return insights, used, problems


def _problems_line(problems: list[dict[str, Any]]) -> str:
    """"2 problem(s), first: extract: Title: error" (the whole message under --quiet, for cron)."""
    return f"{len(problems)} problem(s), first: {render.problem_line(problems[0])}"


def _nothing_new(paths: Paths, when: Window, episodes: int, insights: int, problems: list[dict[str, Any]],
                 remaining: dict[str, int]) -> Exception:
    left = sum(remaining.values())
    if problems:
        return PartialFailure(f"no new insights, and {_problems_line(problems)}")
    if left:
        return NothingNew(f"nothing new yet: the time budget ran out with {left} step(s) left; run again to finish")
    if not episodes:
        return NothingNew(f"no episodes published or fetched since {_iso(when.since)} (a longer window: --since 7d)")
    if not insights:
        return NothingNew(f"the {episodes} episode(s) since {_iso(when.since)} gave no insights")
    dates = briefs.stored_dates(paths)
    return NothingNew(f"nothing new since the last brief (`podbrief brief --date {dates[0].isoformat()}` shows it)")


def finish(brief: briefs.Brief, config: Config, reporter: Reporter) -> None:
    """After the brief is shown: deliver it, then report failures through the exit status."""
    try:
        note = deliver.deliver(brief, config)
    except DeliveryError as exc:
        raise DeliveryError(f"{exc}; the brief is saved: `podbrief brief --date {brief['date']} --deliver` "
                            "sends it again") from None
    if note:
        reporter.say("done", note)
    if render.remaining_line(brief):
        reporter.say("note", render.remaining_line(brief) + "; run `podbrief today` again to finish")
    if brief["problems"]:
        raise PartialFailure(f"brief saved (it lists them), but {_problems_line(brief['problems'])}")


def resend(brief: briefs.Brief, config: Config) -> str:
    """Deliver a stored brief again (`podbrief brief --deliver`), e.g. after a failed delivery (exit 10)."""
    note = deliver.deliver(brief, config)
    if note is None:
        raise UsageError("brief.deliver is none: there is nowhere to send the brief (set brief.deliver: email)")
    return note
