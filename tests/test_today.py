"""`today`, `brief`: orchestration, window, stored briefs, exit codes, faults and delivery.

The real fetch stage runs against the local HTTP server; transcribe, extract and rank
are fakes here (tests/test_today_e2e.py runs the real ones), so these tests are fast
and can make one episode's extraction fail on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from support.briefdata import free_port, insight
from support.localserver import item, rss
from support.smtpserver import smtp  # noqa: F401 - a fixture
from typer.testing import CliRunner

from podbrief import render
from podbrief.cli import app
from podbrief.errors import ExitStatus, UsageError
from podbrief.stages import StageReport, today
from podbrief.store import Index, Paths, atomic_write_json, read_json, run_lock

runner = CliRunner()
SCHEMA = json.loads((Path(render.__file__).parent / "schemas" / "brief-1.schema.json").read_text())
NOW = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.timezone.utc)
Pipeline = today.Pipeline  # the real class (the `fakes` fixture replaces today.Pipeline)


class FakeStages:
    """Stand-ins for transcribe/extract/rank that record what they were asked to do."""

    def __init__(self, paths: Paths, fail_titles: tuple[str, ...] = ()):
        self.paths = paths
        self.fail_titles = fail_titles
        self.calls: list[tuple[str, list[str]]] = []

    def transcribe(self, paths, config, console, budget, episode_ids):
        self.calls.append(("transcribe", episode_ids))
        with Index(paths) as index:
            for episode_id in episode_ids:
                index.mark_done(episode_id, "transcribe")
        return StageReport("transcribe", done=list(episode_ids))

    def extract(self, paths, config, console, budget, episode_ids):
        self.calls.append(("extract", episode_ids))
        report = StageReport("extract")
        with Index(paths) as index:
            for episode_id in episode_ids:
                meta = read_json(paths.episode_dir(episode_id) / "episode.json")
                if meta["title"] in self.fail_titles:
                    index.mark_failed(episode_id, "extract", "the model returned no valid insight")
                    report.failed[episode_id] = "the model returned no valid insight"
                    continue
                found = [insight(episode_id, n, f"{meta['title']}: point {n}", show=meta["show"],
                                 title=meta["title"]) for n in (1, 2)]
                atomic_write_json(paths.episode_dir(episode_id) / "insights.json", {
                    "schema": "podbrief.insights/1", "episode_id": episode_id, "insights": found})
                index.mark_done(episode_id, "extract")
                report.done.append(episode_id)
        return report

    def rank(self, insights, config, paths, now, date, spare=0):
        best = sorted(insights, key=lambda i: i["text"])[: config["rank"]["top"] + spare]
        return [{"rank": n, "score": 1 / n, "insight": top, "why": {"interest": 1.0, "recency": 0.5},
                 "related": [other | {"similarity": 0.8} for other in insights
                             if other["episode"]["id"] != top["episode"]["id"]][:1]}
                for n, top in enumerate(best, 1)]

    def polish(self, items, config, paths, console, budget):
        self.calls.append(("polish", [item["insight"]["id"] for item in items]))
        return items[: config["rank"]["top"]], None

    def pipeline(self) -> today.Pipeline:
        return Pipeline(self.transcribe, self.extract, self.rank, self.polish)


@pytest.fixture
def fakes(home, monkeypatch) -> FakeStages:
    stages = FakeStages(Paths(home))
    monkeypatch.setattr(today, "Pipeline", stages.pipeline)
    return stages


def publish(server, titles: list[str], path: str = "show.xml") -> str:
    items = [item(title, f"guid-{title}", audio_url=server.url(f"{n}.mp3")) for n, title in enumerate(titles)]
    for n in range(len(titles)):
        server.add(f"{n}.mp3", b"ID3 not really audio")
    return server.add(path, rss("Test Show", items))


def subscribe(url: str) -> None:
    result = runner.invoke(app, ["add", url])
    assert result.exit_code == 0, result.output


def run_today(*args: str):
    return runner.invoke(app, ["today", *args])


# --- the window --------------------------------------------------------------------------------


def test_default_window_is_since_days_before_now_to_the_end_of_today():
    when = today.window(NOW, 1)
    assert when.since == NOW - dt.timedelta(days=1)
    assert when.date == NOW.astimezone().date()
    assert when.until.astimezone().replace(tzinfo=None) == dt.datetime.combine(when.date, dt.time()) + dt.timedelta(days=1)


def test_since_takes_a_duration_or_a_date():
    assert today.window(NOW, 1, since="12h").since == NOW - dt.timedelta(hours=12)
    assert today.window(NOW, 1, since="2w").since == NOW - dt.timedelta(weeks=2)
    since = today.window(NOW, 1, since="2026-11-20").since
    assert since.astimezone().replace(tzinfo=None) == dt.datetime(2026, 11, 20)


def test_an_earlier_date_ends_at_the_end_of_that_day():
    when = today.window(NOW, 2, date="2026-11-20")
    assert when.date == dt.date(2026, 11, 20)
    assert when.until.astimezone().replace(tzinfo=None) == dt.datetime(2026, 11, 21)
    assert when.until - when.since == dt.timedelta(days=2)


@pytest.mark.parametrize("date, since, message", [
    ("2099-01-01", None, "is in the future"),
    ("24/11/2026", None, "--date: expected YYYY-MM-DD"),
    (None, "3 fortnights", "--since: expected YYYY-MM-DD or a duration"),
    (None, "2099-01-01", "is not before"),
])
def test_bad_window_options(date, since, message):
    with pytest.raises(UsageError, match=message):
        today.window(NOW, 1, date, since)


def test_window_contains_published_or_discovered():
    when = today.window(NOW, 1)
    assert when.contains("2026-11-24T08:00:00Z")
    assert not when.contains("2026-11-23T08:00:00Z") and not when.contains(None)


# --- the CLI -----------------------------------------------------------------------------------


def test_no_subscriptions_explains_how_to_start(home):
    result = run_today()
    assert result.exit_code == ExitStatus.NOTHING_NEW
    assert "podbrief add FEED_URL" in result.stderr and "podbrief demo" in result.stderr


def test_today_makes_stores_and_reprints_a_brief(home, server, fakes):
    subscribe(publish(server, ["First", "Second"]))
    result = run_today()
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)  # not a terminal: JSON
    jsonschema.validate(made, SCHEMA)
    assert [item["insight"]["text"] for item in made["items"]] == [
        "First: point 1", "First: point 2", "Second: point 1", "Second: point 2"]
    assert made["items"][0]["related"][0]["episode"]["title"] == "Second"
    assert made["problems"] == [] and len(made["sources"]) == 2
    stored = home / "briefs" / f"{made['date']}.json"
    assert json.loads(stored.read_text()) == made
    assert (home / "briefs" / "feed.atom").exists()

    reprinted = runner.invoke(app, ["brief", "--date", made["date"]])
    assert reprinted.exit_code == 0 and json.loads(reprinted.stdout) == made
    assert "# podbrief," in runner.invoke(app, ["brief", "--markdown"]).stdout


def test_rerun_with_nothing_new_is_fast_and_does_no_work(home, server, fakes):
    subscribe(publish(server, ["First"]))
    assert run_today().exit_code == 0
    calls = len(fakes.calls)
    result = run_today()
    assert result.exit_code == ExitStatus.NOTHING_NEW
    assert "nothing new since the last brief" in result.stderr
    assert len(fakes.calls) == calls  # no stage was started
    assert runner.invoke(app, ["-q", "today"]).stderr == ""  # cron: silent


def test_new_episode_later_the_same_day_replaces_the_brief(home, server, fakes):
    url = publish(server, ["First"])
    subscribe(url)
    first = json.loads(run_today().stdout)
    publish(server, ["First", "Second"])
    second = run_today()
    assert second.exit_code == 0
    assert fakes.calls[-2] == ("extract", [json.loads(second.stdout)["items"][2]["insight"]["episode"]["id"]])
    assert fakes.calls[-1][0] == "polish"
    assert json.loads(second.stdout)["date"] == first["date"]
    assert len(list((home / "briefs").glob("*.json"))) == 1


def test_failed_extraction_brief_from_the_rest_says_so(home, server, fakes):
    fakes.fail_titles = ("Broken",)
    subscribe(publish(server, ["Fine", "Broken"]))
    result = run_today()
    assert result.exit_code == ExitStatus.PARTIAL
    made = json.loads(result.stdout)
    assert {item["insight"]["episode"]["title"] for item in made["items"]} == {"Fine"}
    assert made["problems"] == [{"stage": "extract", "episode_id": made["problems"][0]["episode_id"],
                                 "title": "Broken", "error": "the model returned no valid insight"}]
    assert "brief saved (it lists them), but 1 problem(s), first: extract: Broken: the model returned" in result.stderr


def test_corrupt_insight_file_is_a_problem_not_a_crash(home, server, fakes):
    subscribe(publish(server, ["Fine", "Mangled"]))
    run_today()
    [mangled] = [p for p in (home / "episodes").glob("*/episode.json") if read_json(p)["title"] == "Mangled"]
    (mangled.parent / "insights.json").write_text('{"schema": "podbrief.insights/1", "insights": "oops"')
    (home / "briefs").rename(home / "old-briefs")  # forget the first brief so the rest is new again
    result = run_today()
    assert result.exit_code == ExitStatus.PARTIAL
    made = json.loads(result.stdout)
    assert {item["insight"]["episode"]["title"] for item in made["items"]} == {"Fine"}
    [problem] = made["problems"]
    assert problem["stage"] == "extract" and problem["title"] == "Mangled"
    assert "insights.json: not valid JSON" in problem["error"]


def test_vanished_feed_is_reported(home, server, fakes):
    subscribe(publish(server, ["First"]))
    assert run_today().exit_code == 0
    server.route("show.xml", status=404)
    result = run_today()
    assert result.exit_code == ExitStatus.PARTIAL
    assert "fetch: Test Show: feed gone" in result.stderr
    assert "no new insights, and 1 problem(s), first: fetch: Test Show: feed gone" in result.stderr


def test_budget_leaves_work_for_the_next_run(home, server, fakes):
    subscribe(publish(server, ["First"]))
    result = run_today("--budget", "0")
    assert result.exit_code == ExitStatus.NOTHING_NEW
    assert "time budget ran out" in result.stderr
    assert fakes.calls == []
    assert run_today().exit_code == 0


def test_today_emails_the_brief(home, server, fakes, set_config, smtp):
    inbox, port = smtp()
    set_config(brief={"deliver": "email"}, email={"host": "127.0.0.1", "port": port, "security": "none",
                                                  "to": ["me@example.org"], "sender": "podbrief@example.org"})
    subscribe(publish(server, ["First"]))
    result = runner.invoke(app, ["-q", "today"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    [message] = inbox.messages
    assert message["To"] == "me@example.org"
    assert "First: point 1" in message.get_body(("html",)).get_content()


def test_unreachable_smtp_server_keeps_the_brief(home, server, fakes, set_config):
    set_config(brief={"deliver": "email"}, email={"host": "127.0.0.1", "port": free_port(), "security": "none",
                                                  "to": ["me@example.org"]})
    subscribe(publish(server, ["First"]))
    result = run_today()
    assert result.exit_code == ExitStatus.DELIVERY
    assert "email: cannot send via 127.0.0.1:" in result.stderr
    made = json.loads(result.stdout)  # shown before delivery was tried
    assert (home / "briefs" / f"{made['date']}.json").exists()


@pytest.mark.parametrize("sections, message", [
    ({"brief": {"delivr": "email"}}, "unknown key 'brief.delivr'"),
    ({"rank": {"top": "five"}}, "rank.top: expected an integer, got 'five'"),
    ({"brief": {"deliver": "email"}}, "email.to: expected a list of email addresses"),
])
def test_bad_config_names_the_key(home, set_config, sections, message, fakes):
    set_config(**sections)
    result = run_today()
    assert result.exit_code == ExitStatus.CONFIG
    assert message in result.stderr


def test_a_second_run_waits_for_no_one(home, fakes):
    with run_lock(Paths(home)):
        result = run_today()
    assert result.exit_code == ExitStatus.LOCKED


def test_output_formats(home, server, fakes, tmp_path):
    subscribe(publish(server, ["First"]))
    quiet = runner.invoke(app, ["-q", "today", "-o", str(tmp_path / "brief.html")])
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert (tmp_path / "brief.html").read_text().startswith("<!DOCTYPE html>")
    assert runner.invoke(app, ["brief", "--html"]).stdout.startswith("<!DOCTYPE html>")
    assert runner.invoke(app, ["brief", "-o", str(tmp_path / "b.md")]).exit_code == 0
    assert (tmp_path / "b.md").read_text().startswith("# podbrief,")
    unknown = runner.invoke(app, ["brief", "-o", str(tmp_path / "b.txt")])
    assert unknown.exit_code == ExitStatus.USAGE and "cannot tell the format" in unknown.stderr
    both = runner.invoke(app, ["brief", "--json", "--html"])
    assert both.exit_code == ExitStatus.USAGE


def test_brief_for_a_day_without_one(home):
    result = runner.invoke(app, ["brief", "--date", "2026-11-20"])
    assert result.exit_code == ExitStatus.USAGE
    assert "no brief for 2026-11-20" in result.stderr
