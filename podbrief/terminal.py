"""Everything podbrief shows on a terminal with rich: the brief, `rank` and `explain`, the tables of
`feeds`, `models`, `speakers` and the directory searches, and the stages' status lines and progress
bars (`TerminalReporter`, podbrief/progress.py's interface).

Everything shown comes from feeds, models or files, so it is untrusted: it goes through
`render.clean` (control characters out) and is shown as plain `Text`, never parsed as markup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.style import Style
from rich.table import Table
from rich.text import Text

from podbrief import briefs, render
from podbrief.briefs import BriefItem, RelatedInsight
from podbrief.directory import Show
from podbrief.formats.insights import Insight
from podbrief.progress import Bar, Kind, Unit
from podbrief.ranking.score import Entry


def _source_text(insight: Insight) -> Text:
    text = Text(render.source_line(insight), style="dim")
    quote = render.quote_of(insight)
    if "start" in quote:
        text.append(" · ", style="dim")
        link = render.safe_url(quote.get("link"))
        text.append(render.timestamp(quote["start"]), style=Style(color="cyan", link=link) if link else "cyan")
    return text


def _hanging(label: str, *lines: RenderableType, width: int = 1) -> Table:
    """`label` in its own column beside `lines`, so wrapped lines stay indented."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", min_width=width)
    grid.add_column()
    grid.add_row(Text(label, style="bold"), Group(*lines))
    return grid


def _stance_label(related: RelatedInsight) -> tuple[tuple[str, str], ...]:
    stance = render.clean(related.get("stance"))
    return ((f"{stance}: ", "magenta"),) if stance else ()


def brief(brief: briefs.Brief, console: Console, explain: bool = False) -> None:
    """Print the brief for a person at a terminal (links are clickable where supported)."""
    console.print(Text(render.title(brief), style="bold"), soft_wrap=False)
    for item in brief["items"]:
        insight = item["insight"]
        lines: list[RenderableType] = [Text(render.clean(insight.get("text")), style="bold"), _source_text(insight)]
        if render.quote_of(insight).get("text"):
            lines.append(Text(f"“{render.clean(render.quote_of(insight)['text'])}”", style="italic"))
        if explain:
            lines += [Text(line, style="yellow") for line in render.explain_lines(item)]
        lines += [Text(line, style="cyan") for line in render.earlier_lines(item)]
        if render.stance_summary(item.get("related") or []):
            lines.append(Text(render.stance_summary(item["related"]), style="dim italic"))
        lines += [_hanging("↳", Text.assemble(*_stance_label(related), render.clean(related.get("text"))),
                           _source_text(related)) for related in item.get("related") or []]
        console.print()
        console.print(_hanging(f"{item['rank']}.", *lines, width=2), soft_wrap=False)
    if render.remaining_line(brief):
        console.print()
        console.print(Text(render.remaining_line(brief), style="yellow"), soft_wrap=False)
    if brief.get("problems"):
        console.print()
        console.print(Text("Problems (these episodes are missing from the brief):", style="red"), soft_wrap=False)
        for problem in brief["problems"]:
            console.print(_hanging("!", Text(render.problem_line(problem), style="red"), width=2), soft_wrap=False)


# --- rank and explain ---------------------------------------------------------------------


def _breakdown(item: BriefItem) -> list[RenderableType]:
    """"score 3.21 = interest 2.00 · quality 0.60 · ..." and one line per reason."""
    lines: list[RenderableType] = [Text(f"score {item['score']:.2f} = {render.why_line(item['why'])}", style="yellow")]
    lines += [Text(f"  {render.clean(reason)}", style="yellow") for reason in item["reasons"]]
    return lines


def _body(item: BriefItem, why: bool) -> list[RenderableType]:
    insight = item["insight"]
    merged = len(item["duplicates"])
    meta = f"id {insight['id']} · score {item['score']:.2f}"
    meta += f" · also said in {merged} other insight{'s' if merged != 1 else ''}" if merged else ""
    lines: list[RenderableType] = [Text(render.clean(insight["text"]), style="bold"), _source_text(insight),
                                   Text(meta, style="dim")]
    if why:
        lines += _breakdown(item)
    for related in item["related"]:
        lines.append(Text(f"↳ {render.clean(related['text'])} ({related['similarity']:.2f})"))
        lines.append(Text.assemble("  ", _source_text(related)))
    return lines


def ranked(items: list[BriefItem], console: Console, why: bool = False) -> None:
    """The ranked items, best first, each with its source, id, score and related insights."""
    for item in items:
        console.print(_hanging(f"{item['rank']}.", *_body(item, why), width=2), soft_wrap=False)
        console.print()


def explanation(entry: Entry, console: Console) -> None:
    """Why one insight ranked where it did: its status, score breakdown, merged duplicates and related insights."""
    item = entry.item()
    lines: list[RenderableType] = [Text(render.clean(entry.insight["text"]), style="bold"), _source_text(entry.insight),
                                   Text(f"id {entry.id} · {entry.status}")]
    lines += _breakdown(item)
    if entry.duplicates:
        lines.append(Text(f"merged near-duplicates: {', '.join(entry.duplicates)}", style="dim"))
    for related in entry.related:
        lines.append(Text(f"↳ {render.clean(related['text'])} ({related['similarity']:.2f})"))
    console.print(Group(*lines), soft_wrap=False)


# --- tables ------------------------------------------------------------------------------------


def shows_table(shows: list[Show], first_column: tuple[str, list[str]] | None = None) -> Table:
    """Directory results as a table (their text is untrusted: every cell is a plain `Text`).

    `first_column`: a header and one cell per show, e.g. numbers to choose by, or topics.
    """
    table = Table(*([first_column[0]] if first_column else []), "Show", "Author", "Episodes")
    table.add_column("ID", no_wrap=True, min_width=16)
    table.add_column("Feed URL", overflow="fold")
    for index, show in enumerate(shows):
        cells = [first_column[1][index]] if first_column else []
        cells += [show.title, show.author or "", "" if show.episodes is None else str(show.episodes), show.id,
                  show.feed_url]
        table.add_row(*(Text(cell) for cell in cells))
    return table


def feeds_table(summaries: list[dict[str, Any]]) -> Table:
    """`podbrief feeds`: one row per subscription."""
    table = Table("Show", "Episodes", "Status", "Last checked")
    table.add_column("ID", no_wrap=True, min_width=16)
    table.add_column("URL", overflow="fold")
    for feed in summaries:
        status = feed["last_status"] or "not fetched yet"
        table.add_row(*(Text(render.clean(cell)) for cell in (
            feed["name"] or feed["title"] or "", f"{feed['fetched']}/{feed['episodes']}",
            f"{status}: {feed['error']}" if feed["error"] else status, feed["last_checked"] or "",
            feed["id"], feed["url"])))
    return table


def models_table(rows: list[dict[str, Any]], configured: set[str]) -> Table:
    """`podbrief models`: each model with its state (and whether its sha256 was verified)."""
    table = Table("Model", "Kind", "Status", "Device", "Description")
    for row in rows:
        status = "ready" if row["ready"] else "installed, assembled on first use" if row["installed"] else \
            "not installed"
        if row["verified"] is not None:
            status += ", sha256 ok" if row["verified"] else ", SHA256 MISMATCH"
        name = f"{row['name']} (configured)" if row["name"] in configured else str(row["name"])
        table.add_row(*(Text(cell) for cell in (name, str(row["kind"]), status, str(row["device"]),
                                                str(row["description"]))))
    return table


def speakers_table(rows: list[dict[str, Any]], shows: dict[str, str]) -> Table:
    """`podbrief speakers`: the remembered voices, with their show's name."""
    table = Table("Speaker", "Show", "Episodes", "Model", "Updated")
    for row in rows:
        table.add_row(*(Text(render.clean(str(cell))) for cell in (  # str first: 0 episodes is "0"
            row["name"], shows.get(row["feed_id"], row["feed_id"]), row["episodes"], row["model"], row["updated"])))
    return table


# --- the stages' status lines and progress bars ---------------------------------------------------

_LABELS = {"new": "cyan", "downloaded": "green", "failed": "red", "problem": "red", "note": "yellow"}


class TerminalReporter:
    """Status lines and progress bars on `console` (stderr); the bars only on a terminal, never under --quiet."""

    def __init__(self, console: Console):
        self.console = console

    def say(self, kind: Kind, message: str) -> None:
        text = render.clean(message)
        if kind == "warning":
            line = Text(f"podbrief: warning: {text}", style="red")
        elif kind == "start":
            line = Text(text, style="bold")
        elif kind == "done":
            line = Text(f"  {text}")
        else:
            line = Text.assemble((kind, _LABELS[kind]), " ", text)
        self.console.print(line, soft_wrap=True)

    @contextlib.contextmanager
    def bars(self, unit: Unit) -> Iterator[_Bars]:
        counts: tuple[ProgressColumn, ...] = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (
            TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[note]}"), TimeElapsedColumn())
        progress = Progress(TextColumn("{task.description}"), BarColumn(), *counts, console=self.console,
                            transient=True, disable=self.console.quiet or not self.console.is_terminal)
        with progress:
            yield _Bars(progress)


class _Bars:
    def __init__(self, progress: Progress):
        self.progress = progress

    def add(self, description: str, total: float | None = None) -> Bar:
        return _Bar(self.progress, self.progress.add_task(escape(render.clean(description)), total=total, note=""))


class _Bar:
    def __init__(self, progress: Progress, task: TaskID):
        self.progress, self.task, self.closed = progress, task, False

    def update(self, done: float | None = None, total: float | None = None, note: str | None = None) -> None:
        if self.closed:  # closed for good: late updates change nothing
            return
        self.progress.update(self.task, completed=done, total=total)
        if note is not None:
            self.progress.update(self.task, note=note)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.progress.remove_task(self.task)
