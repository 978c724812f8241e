"""Briefs as terminal output (rich), JSON, Markdown, self-contained HTML and an Atom feed.

Everything shown here comes from feeds and models, so it is untrusted: control
characters are stripped, rich never parses it as markup (plain `Text` objects),
Markdown and HTML are escaped, and only http(s) URLs become links.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

Brief = dict[str, Any]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#!&])")
ATOM_NS = "http://www.w3.org/2005/Atom"


# --- shared helpers ----------------------------------------------------------------


def clean(text: Any) -> str:
    """One line of displayable text: control characters removed, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", str(text or "")).split())


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s) and free of whitespace/control characters, else None."""
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        return None
    return None if _CONTROL.search(url) or any(c.isspace() for c in url) else url


def timestamp(seconds: Any) -> str:
    """812.4 -> "13:32"; 3725 -> "1:02:05"."""
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def long_date(brief: Brief) -> str:
    return dt.date.fromisoformat(brief["date"]).strftime("%a %d %b %Y")


def title(brief: Brief) -> str:
    """"podbrief, Tue 25 Nov 2026: 3 insights" (mail subject, page and Atom entry title)."""
    count = len(brief["items"])
    return f"podbrief, {long_date(brief)}: {count} insight{'s' if count != 1 else ''}"


def source_line(insight: dict[str, Any]) -> str:
    """"Speaker · Show · Episode title" with the parts that are known."""
    episode = insight.get("episode") or {}
    parts = (insight.get("speaker"), episode.get("show"), episode.get("title"))
    return " · ".join(clean(p) for p in parts if clean(p))


def quote_of(insight: dict[str, Any]) -> dict[str, Any]:
    return insight.get("quote") or {}


def why_line(why: dict[str, Any]) -> str:
    """"interest 1.00 · quality 0.60 · ...": the ranking factors of one item."""
    return " · ".join(f"{clean(k)} {v:.2f}" if isinstance(v, (int, float)) else f"{clean(k)} {clean(v)}"
                      for k, v in why.items())


def explain_lines(item: dict[str, Any]) -> list[str]:
    """Why an item ranked where it did: the score's parts, then rank's reasons."""
    lines = [f"why: score {item.get('score', 0):.2f} = {why_line(item.get('why') or {})}"]
    return lines + [f"because: {clean(reason)}" for reason in item.get("reasons") or []]


def problem_line(problem: dict[str, Any]) -> str:
    subject = clean(problem.get("title")) or problem.get("episode_id") or problem.get("feed_id") or "?"
    return f"{clean(problem.get('stage'))}: {subject}: {clean(problem.get('error'))}"


def remaining_line(brief: Brief) -> str:
    """"not done yet (time budget): 2 to transcribe, 1 to extract", or "" when nothing is left."""
    left = {stage: n for stage, n in (brief.get("remaining") or {}).items() if n}
    if not left:
        return ""
    return "not done yet (time budget): " + ", ".join(f"{n} to {clean(stage)}" for stage, n in left.items())


# --- JSON ------------------------------------------------------------------------------


def to_json(brief: Brief) -> str:
    return json.dumps(brief, indent=2, ensure_ascii=False) + "\n"


def text(brief: Brief, fmt: str, explain: bool = False) -> str:
    """The brief as a "json", "markdown" or "html" document."""
    if fmt == "json":
        return to_json(brief)
    return markdown(brief, explain) if fmt == "markdown" else html_page(brief, explain)


# --- terminal --------------------------------------------------------------------------


def _source_text(insight: dict[str, Any]) -> Text:
    text = Text(source_line(insight), style="dim")
    quote = quote_of(insight)
    if "start" in quote:
        text.append(" · ", style="dim")
        link = safe_url(quote.get("link"))
        text.append(timestamp(quote["start"]), style=Style(color="cyan", link=link) if link else "cyan")
    return text


def _hanging(label: str, *lines: RenderableType, width: int = 1) -> Table:
    """`label` in its own column beside `lines`, so wrapped lines stay indented."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", min_width=width)
    grid.add_column()
    grid.add_row(Text(label, style="bold"), Group(*lines))
    return grid


def terminal(brief: Brief, console: Console, explain: bool = False) -> None:
    """Print the brief for a person at a terminal (links are clickable where supported)."""
    console.print(Text(title(brief), style="bold"), soft_wrap=False)
    for item in brief["items"]:
        insight = item["insight"]
        lines: list[RenderableType] = [Text(clean(insight.get("text")), style="bold"), _source_text(insight)]
        if quote_of(insight).get("text"):
            lines.append(Text(f"“{clean(quote_of(insight)['text'])}”", style="italic"))
        if explain:
            lines += [Text(line, style="yellow") for line in explain_lines(item)]
        lines += [_hanging("↳", Text(clean(related.get("text"))), _source_text(related))
                  for related in item.get("related") or []]
        console.print()
        console.print(_hanging(f"{item['rank']}.", *lines, width=2), soft_wrap=False)
    if remaining_line(brief):
        console.print()
        console.print(Text(remaining_line(brief), style="yellow"), soft_wrap=False)
    if brief.get("problems"):
        console.print()
        console.print(Text("Problems (these episodes are missing from the brief):", style="red"), soft_wrap=False)
        for problem in brief["problems"]:
            console.print(_hanging("!", Text(problem_line(problem), style="red"), width=2), soft_wrap=False)


# --- Markdown ----------------------------------------------------------------------------


def md_escape(text: Any) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(text))


def _md_link(label: str, url: Any) -> str:
    link = safe_url(url)
    return f"[{label}](<{link.replace('<', '%3C').replace('>', '%3E')}>)" if link else label


def _md_source(insight: dict[str, Any]) -> str:
    quote = quote_of(insight)
    stamp = f" · {_md_link(timestamp(quote['start']), quote.get('link'))}" if "start" in quote else ""
    return md_escape(source_line(insight)) + stamp


def markdown(brief: Brief, explain: bool = False) -> str:
    lines = [f"# {md_escape(title(brief))}", ""]
    for item in brief["items"]:
        insight = item["insight"]
        lines.append(f"{item['rank']}. **{md_escape(insight.get('text'))}**  ")
        lines.append(f"   {_md_source(insight)}")
        if quote_of(insight).get("text"):
            lines += ["", f"   > {md_escape(quote_of(insight)['text'])}"]
        if explain:
            lines += [""] + [f"   *{md_escape(line)}*  " for line in explain_lines(item)]
        related = item.get("related") or []
        if related:
            lines += ["", "   Related:", ""]
            lines += [f"   - {md_escape(r.get('text'))} ({_md_source(r)})" for r in related]
        lines.append("")
    if remaining_line(brief):
        lines += [f"*{md_escape(remaining_line(brief))}*", ""]
    if brief.get("problems"):
        lines += ["## Problems", ""] + [f"- {md_escape(problem_line(p))}" for p in brief["problems"]] + [""]
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------------

# Inline styles only: many mail clients drop <style> blocks and never load external CSS.
_BODY = "margin:0 auto;max-width:42em;padding:1em;font-family:Georgia,serif;color:#222;line-height:1.45"
_ITEM = "margin:1.5em 0;padding-top:1em;border-top:1px solid #ddd"
_SOURCE = "color:#666;font-size:90%;margin:.25em 0"
_QUOTE = "margin:.5em 0 .5em 1em;padding-left:.75em;border-left:3px solid #ccc;color:#444;font-style:italic"
_RELATED = "color:#333;font-size:95%"
_NOTE = "color:#8a5a00"


def _h(text: Any) -> str:
    return html.escape(clean(text))


def _html_source(insight: dict[str, Any]) -> str:
    quote = quote_of(insight)
    stamp = ""
    if "start" in quote:
        link = safe_url(quote.get("link"))
        label = html.escape(timestamp(quote["start"]))
        stamp = f' · <a href="{html.escape(link)}">{label}</a>' if link else f" · {label}"
    return _h(source_line(insight)) + stamp


def html_fragment(brief: Brief, explain: bool = False) -> str:
    """The brief's body, also used as the content of its Atom entry."""
    parts = [f"<h1 style=\"font-size:1.4em\">{_h(title(brief))}</h1>"]
    for item in brief["items"]:
        insight = item["insight"]
        parts.append(f'<div style="{_ITEM}">')
        parts.append(f"<p><b>{item['rank']}. {_h(insight.get('text'))}</b></p>")
        parts.append(f'<p style="{_SOURCE}">{_html_source(insight)}</p>')
        if quote_of(insight).get("text"):
            parts.append(f'<blockquote style="{_QUOTE}">{_h(quote_of(insight)["text"])}</blockquote>')
        if explain:
            parts += [f'<p style="{_SOURCE}">{_h(line)}</p>' for line in explain_lines(item)]
        related = item.get("related") or []
        if related:
            parts.append(f'<p style="{_RELATED}">Related:</p><ul style="{_RELATED}">')
            parts += [f"<li>{_h(r.get('text'))}<br><span style=\"{_SOURCE}\">{_html_source(r)}</span></li>"
                      for r in related]
            parts.append("</ul>")
        parts.append("</div>")
    if remaining_line(brief):
        parts.append(f'<p style="{_NOTE}">{_h(remaining_line(brief))}</p>')
    if brief.get("problems"):
        parts.append(f'<h2 style="font-size:1.1em;{_NOTE}">Problems</h2><ul style="{_NOTE}">')
        parts += [f"<li>{_h(problem_line(p))}</li>" for p in brief["problems"]]
        parts.append("</ul>")
    return "\n".join(parts)


def html_page(brief: Brief, explain: bool = False) -> str:
    """One self-contained HTML file: no scripts, no external resources."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title(brief))}</title>\n</head>\n"
        f'<body style="{_BODY}">\n{html_fragment(brief, explain)}\n</body>\n</html>\n'
    )


# --- Atom ------------------------------------------------------------------------------------


def atom(briefs: Iterable[Brief]) -> str:
    """An Atom feed with one entry per brief (newest first), so any feed reader can follow them."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        element.text = text
        return element

    briefs = sorted(briefs, key=lambda b: b["date"], reverse=True)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "title", "podbrief: daily briefs")
    sub(feed, "id", "urn:podbrief:briefs")
    sub(feed, "updated", briefs[0]["created"] if briefs else "1970-01-01T00:00:00Z")
    sub(sub(feed, "author"), "name", "podbrief")
    sub(feed, "generator", "podbrief")
    for brief in briefs:
        entry = sub(feed, "entry")
        sub(entry, "title", title(brief))
        sub(entry, "id", f"urn:podbrief:brief:{brief['date']}")
        sub(entry, "updated", brief["created"])
        sub(entry, "content", html_fragment(brief), type="html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
