"""Terminal output of `podbrief rank` and `podbrief explain`.

Insight text, names and topics come from feeds and models: they are shown as plain
`Text` (never parsed as rich markup) after `render.clean`, like everything in render.py.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from podbrief import render
from podbrief.ranking.score import Entry


def _source(insight: dict[str, Any]) -> Text:
    """"Speaker · Show · Episode · 13:32", the time linked to the audio where the link is http(s)."""
    text = Text(render.source_line(insight), style="dim")
    quote = render.quote_of(insight)
    if "start" in quote:
        link = render.safe_url(quote.get("link"))
        text.append(" · ", style="dim")
        text.append(render.timestamp(quote["start"]), style=Style(color="cyan", link=link) if link else "cyan")
    return text


def _breakdown(item: dict[str, Any]) -> list[RenderableType]:
    """"score 3.21 = interest 2.00 · quality 0.60 · ..." and one line per reason."""
    lines: list[RenderableType] = [Text(f"score {item['score']:.2f} = {render.why_line(item['why'])}", style="yellow")]
    lines += [Text(f"  {render.clean(reason)}", style="yellow") for reason in item["reasons"]]
    return lines


def _body(item: dict[str, Any], why: bool) -> list[RenderableType]:
    insight = item["insight"]
    merged = len(item["duplicates"])
    meta = f"id {insight['id']} · score {item['score']:.2f}"
    meta += f" · also said in {merged} other insight{'s' if merged != 1 else ''}" if merged else ""
    lines: list[RenderableType] = [Text(render.clean(insight["text"]), style="bold"), _source(insight),
                                   Text(meta, style="dim")]
    if why:
        lines += _breakdown(item)
    for related in item["related"]:
        lines.append(Text(f"↳ {render.clean(related['text'])} ({related['similarity']:.2f})"))
        lines.append(Text.assemble("  ", _source(related)))
    return lines


def ranked(items: list[dict[str, Any]], console: Console, why: bool = False) -> None:
    """The ranked items, best first, each with its source, id, score and related insights."""
    for item in items:
        grid = Table.grid(padding=(0, 1))  # the rank in its own column keeps wrapped lines indented
        grid.add_column(justify="right", min_width=2)
        grid.add_column()
        grid.add_row(Text(f"{item['rank']}.", style="bold"), Group(*_body(item, why)))
        console.print(grid, soft_wrap=False)
        console.print()


def explanation(entry: Entry, console: Console) -> None:
    """Why one insight ranked where it did: its status, score breakdown, merged duplicates and related insights."""
    item = entry.item()
    lines: list[RenderableType] = [Text(render.clean(entry.insight["text"]), style="bold"), _source(entry.insight),
                                   Text(f"id {entry.id} · {entry.status}")]
    lines += _breakdown(item)
    if entry.duplicates:
        lines.append(Text(f"merged near-duplicates: {', '.join(entry.duplicates)}", style="dim"))
    for related in entry.related:
        lines.append(Text(f"↳ {render.clean(related['text'])} ({related['similarity']:.2f})"))
    console.print(Group(*lines), soft_wrap=False)
