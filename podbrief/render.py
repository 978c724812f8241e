"""Briefs as JSON, Markdown, self-contained HTML and an Atom feed (the terminal is terminal.py), and `clean`.

Everything shown here comes from feeds and models, so it is untrusted: control
characters are stripped (`clean`, which terminal.py uses too before showing plain rich `Text`),
Markdown and HTML are escaped, and only http(s) URLs become links.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from podbrief.related import STANCES

if TYPE_CHECKING:  # types only: briefs.py renders its Atom feed through here
    from podbrief.briefs import BriefItem, RelatedInsight
    from podbrief.formats.insights import Insight, Quote

Brief = dict[str, Any]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#!&])")
_URI_SAFE = "!#$%&'()*+,-./:;=?@[]_~"  # what a URI holds unencoded, besides letters and digits
ATOM_NS = "http://www.w3.org/2005/Atom"


# --- shared helpers ----------------------------------------------------------------


def clean(text: Any) -> str:
    """One line of displayable text: control characters removed, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", str(text or "")).split())


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s) and free of whitespace/control characters, else None.

    Characters a URI may not hold (quotes, angle brackets, non-ASCII) come back percent-encoded.
    """
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        return None
    return None if _CONTROL.search(url) or any(c.isspace() for c in url) else quote(url, safe=_URI_SAFE)


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


def earlier_lines(item: BriefItem) -> list[str]:
    """"You heard about this on Tue 24 Nov, from X · Show: <text>" for each earlier brief's item on the theme."""
    lines = []
    for earlier in item.get("earlier") or []:
        try:
            day = dt.date.fromisoformat(str(earlier.get("date"))).strftime("%a %d %b")
        except ValueError:
            day = clean(earlier.get("date"))
        who = " · ".join(clean(p) for p in (earlier.get("speaker"), earlier.get("show")) if clean(p))
        lines.append(f"You heard about this on {day}{f', from {who}' if who else ''}: {clean(earlier.get('text'))}")
    return lines


def source_line(insight: Insight) -> str:
    """"Speaker · Show · Episode title" with the parts that are known."""
    episode = insight.get("episode") or {}
    parts = (insight.get("speaker"), episode.get("show"), episode.get("title"))
    return " · ".join(clean(p) for p in parts if clean(p))


def quote_of(insight: Insight) -> Quote:
    return insight.get("quote") or {}


def why_line(why: dict[str, Any]) -> str:
    """"interest 1.00 · quality 0.60 · ...": the ranking factors of one item."""
    return " · ".join(f"{clean(k)} {v:.2f}" if isinstance(v, (int, float)) else f"{clean(k)} {clean(v)}"
                      for k, v in why.items())


def explain_lines(item: BriefItem) -> list[str]:
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


# --- shared by every format ---------------------------------------------------------


def stance_summary(related: list[RelatedInsight]) -> str:
    """"1 of 3 related insights disagrees" (and how many agree); "" when no stance is marked."""
    counts = [(sum(1 for r in related if r.get("stance") == label), label) for label in STANCES]
    noun = "related insights" if len(related) > 1 else "related insight"
    return "; ".join(f"{count} of {len(related)} {noun} {label if count == 1 else label.removesuffix('s')}"
                     for count, label in counts if count)


# --- Markdown ----------------------------------------------------------------------------


def md_escape(text: Any) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(text))


def md_link(label: str, url: Any) -> str:
    link = safe_url(url)
    return f"[{label}](<{link}>)" if link else label


def _md_source(insight: Insight) -> str:
    quote = quote_of(insight)
    stamp = f" · {md_link(timestamp(quote['start']), quote.get('link'))}" if "start" in quote else ""
    return md_escape(source_line(insight)) + stamp


def _md_stance(related: RelatedInsight) -> str:
    return f"*{md_escape(related['stance'])}:* " if related.get("stance") else ""


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
        lines += [f"   *{md_escape(line)}*  " for line in earlier_lines(item)]
        related = item.get("related") or []
        if related:
            summary = f" ({md_escape(stance_summary(related))})" if stance_summary(related) else ""
            lines += ["", f"   Related{summary}:", ""]
            lines += [f"   - {_md_stance(r)}{md_escape(r.get('text'))} ({_md_source(r)})" for r in related]
        lines.append("")
    if remaining_line(brief):
        lines += [f"*{md_escape(remaining_line(brief))}*", ""]
    if brief.get("problems"):
        lines += ["## Problems", ""] + [f"- {md_escape(problem_line(p))}" for p in brief["problems"]] + [""]
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------------

# Inline styles only, so mail clients that drop <style> blocks and never load external CSS show the
# light scheme. The page's one <style> block only adds the dark scheme (prefers-color-scheme) on top,
# through the classes below; no scripts, and the audio loads only when played (preload="none").
_BODY = "margin:0;padding:0;background:#fbfaf7;color:#1f1f1f"
_PAGE = "margin:0 auto;max-width:40em;padding:1.25em 1em 2em;font-family:Georgia,'Times New Roman',serif;line-height:1.5"
_H1 = "font-size:1.35em;line-height:1.25;margin:0 0 .25em"
_ITEM = "margin:1.25em 0;padding:1em 1.1em;background:#ffffff;border:1px solid #e4e1da;border-radius:8px"
_INSIGHT = "font-size:1.12em;line-height:1.4;margin:0 0 .4em;font-weight:bold"
_RANK = "color:#8a8478;font-weight:normal"
_MUTED = "color:#5f5b54;font-size:90%;margin:.2em 0"
_QUOTE = "margin:.75em 0;padding:.1em 0 .1em .9em;border-left:3px solid #c9b98f;color:#3a3631;font-style:italic"
_LISTEN = "margin:.5em 0;font-family:Helvetica,Arial,sans-serif;font-size:90%"
_AUDIO = "display:block;width:100%;margin:.4em 0"
_LINK = "color:#1a55b0"
_RELATED = "margin:.9em 0 0;padding-top:.6em;border-top:1px dashed #e4e1da;font-size:95%"
_STANCE = "display:inline-block;padding:0 .45em;margin-right:.35em;border-radius:.7em;font-size:80%;" \
          "font-family:Helvetica,Arial,sans-serif;background:#efe9dc;color:#5a4a22"
_NOTE = "color:#8a5a00"
_DARK = """@media (prefers-color-scheme: dark) {
  .pb-body { background: #17171a !important; color: #e7e5e0 !important; }
  .pb-item { background: #222226 !important; border-color: #3a3a40 !important; }
  .pb-muted, .pb-rank { color: #a9a59c !important; }
  .pb-quote { color: #d8d4cb !important; border-color: #8c7b4f !important; }
  .pb-related { border-color: #3a3a40 !important; }
  .pb-stance { background: #3b3527 !important; color: #e6d3a3 !important; }
  .pb-note { color: #e0b15a !important; }
  a { color: #8fb8ff !important; }
}"""


def _h(text: Any) -> str:
    return html.escape(clean(text))


def audio_at(quote: Quote) -> str | None:
    """The quote's audio URL with a `#t=` media fragment at its start (so a player starts there), or None."""
    link = safe_url(quote.get("link"))
    if link is None or not isinstance(quote.get("start"), (int, float)):
        return None
    start = f"{quote['start']:.2f}".rstrip("0").rstrip(".")
    return f"{link.split('#', 1)[0]}#t={start}"


def _html_link(label: str, url: str | None) -> str:
    return f'<a href="{html.escape(url)}" style="{_LINK}">{label}</a>' if url else label


def _html_source(insight: Insight) -> str:
    quote = quote_of(insight)
    stamp = ""
    if "start" in quote:
        stamp = " · " + _html_link(html.escape(timestamp(quote["start"])), safe_url(quote.get("link")))
    return _h(source_line(insight)) + stamp


def _html_listen(quote: Quote) -> list[str]:
    """A link that opens the audio at the quote, and a player that starts there."""
    audio = audio_at(quote)
    if audio is None:
        return []
    link = _html_link(f"&#9654; Listen from {html.escape(timestamp(quote['start']))}", safe_url(quote.get("link")))
    return [f'<p style="{_LISTEN}">{link}</p>',
            f'<audio controls preload="none" src="{html.escape(audio)}" style="{_AUDIO}"></audio>']


def _html_related(related: RelatedInsight) -> str:
    stance = clean(related.get("stance"))
    label = f'<span class="pb-stance" style="{_STANCE}">{html.escape(stance)}</span>' if stance else ""
    return (f"<li>{label}{_h(related.get('text'))}<br>"
            f'<span class="pb-muted" style="{_MUTED}">{_html_source(related)}</span></li>')


def _html_item(item: BriefItem, explain: bool) -> list[str]:
    insight = item["insight"]
    quote = quote_of(insight)
    parts = [f'<div class="pb-item" style="{_ITEM}">',
             f'<h2 style="{_INSIGHT}"><span class="pb-rank" style="{_RANK}">{item["rank"]}.</span> '
             f'{_h(insight.get("text"))}</h2>',
             f'<p class="pb-muted" style="{_MUTED}">{_h(source_line(insight))}</p>']
    if quote.get("text"):
        parts.append(f'<blockquote class="pb-quote" style="{_QUOTE}">&#8220;{_h(quote["text"])}&#8221;</blockquote>')
    parts += _html_listen(quote)
    if explain:
        parts += [f'<p class="pb-muted" style="{_MUTED}">{_h(line)}</p>' for line in explain_lines(item)]
    parts += [f'<p class="pb-muted" style="{_MUTED}">{_h(line)}</p>' for line in earlier_lines(item)]
    related = item.get("related") or []
    if related:
        summary = f" ({_h(stance_summary(related))})" if stance_summary(related) else ""
        parts.append(f'<div class="pb-related" style="{_RELATED}"><p style="margin:0">Related{summary}:</p>'
                     '<ul style="margin:.3em 0;padding-left:1.2em">')
        parts += [_html_related(r) for r in related]
        parts.append("</ul></div>")
    parts.append("</div>")
    return parts


def html_fragment(brief: Brief, explain: bool = False) -> str:
    """The brief's body, also used as the content of its Atom entry."""
    parts = [f'<h1 style="{_H1}">{_h(title(brief))}</h1>']
    for item in brief["items"]:
        parts += _html_item(item, explain)
    if remaining_line(brief):
        parts.append(f'<p class="pb-note" style="{_NOTE}">{_h(remaining_line(brief))}</p>')
    if brief.get("problems"):
        parts.append(f'<h2 class="pb-note" style="font-size:1.1em;{_NOTE}">Problems</h2>'
                     f'<ul class="pb-note" style="{_NOTE}">')
        parts += [f"<li>{_h(problem_line(p))}</li>" for p in brief["problems"]]
        parts.append("</ul>")
    return "\n".join(parts)


def html_page(brief: Brief, explain: bool = False) -> str:
    """One self-contained HTML file: no scripts, nothing loaded until an audio player is played."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{_h(title(brief))}</title>\n<style>\n{_DARK}\n</style>\n</head>\n"
        f'<body class="pb-body" style="{_BODY}">\n<div style="{_PAGE}">\n{html_fragment(brief, explain)}\n'
        "</div>\n</body>\n</html>\n"
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
