"""Insights for the apps where people keep what they learn: an Obsidian vault, Readwise CSV, JSON Lines.

The insights are those of one stored brief (its items and their related insights), or every
insight in the data dir plus those of every stored brief. Related insights, with their stance
where known, come from the briefs.

Vault notes are named by ids and hashes only, never by a title, so no feed or model text can
choose where a file goes. Each note keeps podbrief's part between two marker lines; a re-export
replaces that part and podbrief's front matter keys, and keeps everything else the user wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from podbrief import briefs, render
from podbrief.briefs import RelatedInsight
from podbrief.errors import UsageError
from podbrief.formats import insights as insight_files
from podbrief.formats.insights import Insight, InsightEpisode
from podbrief.render import clean
from podbrief.store import Paths, atomic_write_text, short_hash

BEGIN = "<!-- podbrief:begin: podbrief export rewrites this block; write your notes outside it -->"
END = "<!-- podbrief:end -->"
READWISE_COLUMNS = ("Highlight", "Title", "Author", "URL", "Note", "Location", "Date")
_FORMULA_START = ("=", "+", "-", "@")  # spreadsheets run a cell that starts with one of these
_JSON_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
# Characters that would end or redirect a wiki link, or read as markup, in its label.
_WIKI_LABEL = str.maketrans({"[": "(", "]": ")", "|": "/", "\\": "/", "<": "\u2039", ">": "\u203a"})
_LIST_LINK = re.compile(r"^- \[\[([^|\]]+)[|\]]")
_HEX_ID = re.compile(r"[0-9a-f]{1,64}")


@dataclass
class Selection:
    """The insights to export (by id, in order), the related insights of each, and unreadable files."""

    insights: dict[str, Insight] = field(default_factory=dict)
    related: dict[str, dict[str, RelatedInsight]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, insight: Insight) -> None:
        self.insights.setdefault(insight["id"], cast(Insight, {k: v for k, v in insight.items()
                                                             if k not in ("similarity", "relation", "stance")}))

    def add_brief(self, brief: briefs.Brief) -> None:
        for item in brief["items"]:
            self.add(item["insight"])
            links = self.related.setdefault(item["insight"]["id"], {})
            for related in item.get("related") or []:
                self.add(related)
                links.setdefault(related["id"], related)


def from_brief(brief: briefs.Brief) -> Selection:
    """A brief's items and their related insights."""
    chosen = Selection()
    chosen.add_brief(brief)
    return chosen


def select(paths: Paths, date: dt.date | None = None) -> Selection:
    """The insights of the brief of `date`, or (None) every insight in the data dir and the stored briefs."""
    if date is not None:
        return from_brief(briefs.load(paths, date))
    loaded = insight_files.load(paths)
    chosen = Selection(problems=loaded.problems)
    for insight in loaded.insights:
        chosen.add(insight)
    for day in sorted(briefs.stored_dates(paths)):
        chosen.add_brief(briefs.load(paths, day))
    return chosen


# --- fields shared by the formats -----------------------------------------------------------


def _episode(insight: Insight) -> InsightEpisode:
    return insight.get("episode") or {}


def _published(insight: Insight) -> str:
    """When the episode was published, "YYYY-MM-DD HH:MM:SS" (or just the date), or "" when unknown."""
    published = clean(_episode(insight).get("published"))
    return published[:19].replace("T", " ") if re.match(r"\d{4}-\d{2}-\d{2}", published) else ""


# --- JSON Lines -----------------------------------------------------------------------------


def jsonl(chosen: Selection) -> str:
    """One insight per line (as in insights.json, plus its related ids with similarity and stance)."""
    lines = []
    for insight in chosen.insights.values():
        related = [{key: r[key] for key in ("id", "similarity", "stance") if key in r}
                   for r in chosen.related.get(insight["id"], {}).values()]
        line = json.dumps({**insight, "related": related}, ensure_ascii=False)
        lines.append(line.translate(_JSON_LINE_BREAKS) + "\n")  # a line break inside a line would split it
    return "".join(lines)


# --- Readwise CSV ---------------------------------------------------------------------------


def _cell(text: Any) -> str:
    value = clean(text)
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def readwise(chosen: Selection) -> str:
    """Readwise's CSV import: the quote is the highlight, the episode the "book", the show its author."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(READWISE_COLUMNS)
    for insight in chosen.insights.values():
        quote = render.quote_of(insight)
        speaker = clean(insight.get("speaker"))
        note = f"{speaker}: {insight['text']}" if speaker else insight["text"]
        writer.writerow([_cell(quote.get("text") or insight["text"]), _cell(_episode(insight).get("title")),
                         _cell(_episode(insight).get("show")), render.safe_url(quote.get("link")) or "",
                         _cell(note), int(quote.get("start") or 0), _published(insight)])
    return out.getvalue()


# --- Obsidian -------------------------------------------------------------------------------


def _stem(value: Any) -> str:
    """A file name stem from an id: the id itself when it is plain hex, else a hash of it."""
    text = str(value or "")
    return text if _HEX_ID.fullmatch(text) else short_hash(text)


def _insight_note(insight: Insight) -> str:
    return _stem(insight["id"])


def _episode_note(insight: Insight) -> str:
    return f"episode-{_stem(_episode(insight).get('id'))}"


def _speaker_note(speaker: str) -> str:
    return f"speaker-{short_hash(speaker.casefold())}"


def _wiki(note: str, label: Any) -> str:
    """An Obsidian wiki link to `note`, labelled with `label` made harmless."""
    text = clean(label).translate(_WIKI_LABEL) or note
    return f"[[{note}|{text}]]"


def _stamp(insight: Insight) -> str:
    quote = render.quote_of(insight)
    return render.md_link(render.timestamp(quote["start"]), quote.get("link")) if "start" in quote else ""


def _source(insight: Insight) -> str:
    """"[[speaker]] in [[episode]] (show) at [13:32](link)" with what is known."""
    speaker = clean(insight.get("speaker"))
    episode = _episode(insight)
    parts = [_wiki(_speaker_note(speaker), speaker) + " in" if speaker else "In",
             _wiki(_episode_note(insight), episode.get("title") or episode.get("id"))]
    if clean(episode.get("show")):
        parts.append(f"({render.md_escape(episode['show'])})")
    if _stamp(insight):
        parts.append(f"at {_stamp(insight)}")
    return " ".join(parts)


def _insight_fields(insight: Insight) -> dict[str, Any]:
    quote = render.quote_of(insight)
    episode = _episode(insight)
    return {"id": clean(insight["id"]), "speaker": clean(insight.get("speaker")) or None,
            "show": clean(episode.get("show")) or None, "episode": clean(episode.get("title")) or None,
            "date": _published(insight)[:10] or None, "topics": [clean(t) for t in insight.get("topics") or []],
            "quote": clean(quote.get("text")) or None, "link": render.safe_url(quote.get("link")),
            "start": quote.get("start"), "kind": clean(insight.get("kind")) or None,
            "episode_id": clean(episode.get("id")) or None}


def _insight_block(insight: Insight, related: list[RelatedInsight]) -> str:
    lines = [f"# {render.md_escape(insight['text'])}", ""]
    if clean(render.quote_of(insight).get("text")):
        lines += [f"> {render.md_escape(render.quote_of(insight)['text'])}", ""]
    lines += [_source(insight), ""]
    if related:
        lines += ["## Related", ""]
        for other in related:
            stance = f"*{render.md_escape(other['stance'])}*: " if clean(other.get("stance")) else ""
            lines.append(f"- {stance}{_wiki(_insight_note(other), other['text'])} ({_source(other)})")
        lines.append("")
    return "\n".join(lines)


def _index_line(insight: Insight) -> str:
    return f"- {_wiki(_insight_note(insight), insight['text'])} ({_source(insight)})"


@dataclass
class Note:
    """One vault note podbrief writes: its podbrief front matter keys and its marked block."""

    path: Path
    fields: dict[str, Any]
    block: str
    index: list[str] = field(default_factory=list)  # list lines merged with the ones already in the note


def _split(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter, or None when it is not a YAML mapping; the rest of the note)."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0:
        return None, text
    try:
        matter = yaml.safe_load(text[4:end + 1])
    except yaml.YAMLError:
        return None, text
    return (matter if isinstance(matter, dict) else {} if matter is None else None), text[end + 5:]


def _merged_index(old_block: str, lines: list[str]) -> list[str]:
    """The list lines already in a note's block, updated and extended by `lines` (keyed by their link)."""
    merged: dict[str, str] = {}
    for line in [*old_block.splitlines(), *lines]:
        link = _LIST_LINK.match(line)
        if link:
            merged[link.group(1)] = line
    return list(merged.values())


def _render(note: Note, existing: str | None) -> str | None:
    """The note's new text, or None when the user's edits leave no podbrief block to update."""
    matter, body = _split(existing) if existing is not None else ({}, "\n")
    if existing is not None and (matter is None or body.count(BEGIN) != 1 or body.count(END) != 1
                                 or body.index(BEGIN) > body.index(END)):
        return None
    before, rest = body.split(BEGIN, 1) if BEGIN in body else ("", body)
    old_block, after = rest.split(END, 1) if END in rest else ("", rest)
    block = note.block
    if note.index:
        block += "\n".join(["## Insights", "", *_merged_index(old_block, note.index), ""])
    fields = {**note.fields, **{k: v for k, v in (matter or {}).items() if k not in note.fields}}
    front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{front}---\n{before}{BEGIN}\n{block}{END}{after}"


@dataclass
class VaultReport:
    written: int = 0
    unchanged: int = 0
    kept: list[Path] = field(default_factory=list)  # notes whose podbrief block the user removed

    def summary(self) -> str:
        kept = f", {len(self.kept)} kept as the user left them" if self.kept else ""
        return f"{self.written} notes written, {self.unchanged} unchanged{kept}"


def _vault_notes(chosen: Selection, directory: Path) -> list[Note]:
    notes: dict[Path, Note] = {}
    for insight in chosen.insights.values():
        path = directory / "insights" / f"{_insight_note(insight)}.md"
        related = list(chosen.related.get(insight["id"], {}).values())
        notes[path] = Note(path, _insight_fields(insight), _insight_block(insight, related))
        episode = _episode(insight)
        path = directory / "episodes" / f"{_episode_note(insight)}.md"
        title = clean(episode.get("title")) or clean(episode.get("id"))
        show = clean(episode.get("show"))
        notes.setdefault(path, Note(path, {
            "id": clean(episode.get("id")), "show": show or None, "episode": title,
            "date": _published(insight)[:10] or None, "aliases": [title]},
            "".join(f"{line}\n\n" for line in (f"# {render.md_escape(title)}", render.md_escape(show)) if line)))
        notes[path].index.append(_index_line(insight))
        speaker = clean(insight.get("speaker"))
        if speaker:
            path = directory / "speakers" / f"{_speaker_note(speaker)}.md"
            notes.setdefault(path, Note(path, {"speaker": speaker, "aliases": [speaker]},
                                        f"# {render.md_escape(speaker)}\n\n"))
            notes[path].index.append(_index_line(insight))
    return list(notes.values())


def obsidian(chosen: Selection, directory: Path) -> VaultReport:
    """Write (or update in place) one note per insight, episode and speaker under `directory`."""
    report = VaultReport()
    try:
        for note in _vault_notes(chosen, directory):
            existing = note.path.read_text(encoding="utf-8") if note.path.exists() else None
            text = _render(note, existing)
            if text is None:
                report.kept.append(note.path)
            elif text == existing:
                report.unchanged += 1
            else:
                note.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(note.path, text)
                report.written += 1
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{directory}: cannot write the vault ({getattr(exc, 'strerror', None) or exc})") from None
    return report

