"""Stored briefs: `briefs/<YYYY-MM-DD>.json` (schema `podbrief.brief/1`) and the Atom feed of them.

A brief is saved before it is printed or delivered, so a failed delivery never loses it.
The full JSON Schema ships as `podbrief/schemas/brief-1.schema.json`; `check` here only
verifies what podbrief itself relies on when it reads a brief back.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, TypedDict

from podbrief import render
from podbrief.errors import InputError, UsageError
from podbrief.formats.documents import BRIEF
from podbrief.formats.insights import Insight
from podbrief.store import Paths, atomic_write_json, atomic_write_text, expect_schema, read_json

SCHEMA = BRIEF.schema
ATOM_ENTRIES = 30  # past briefs kept in briefs/feed.atom
_DATE_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")



class RelatedInsight(Insight, total=False):
    similarity: float  # e5 cosine to the item's insight
    relation: float  # the score that made it related (docs/related.md)
    stance: str  # agrees | disagrees | another angle, only when confident


class EarlierLink(TypedDict):
    """The item's theme in an earlier brief: a link, never a repeat."""

    id: str
    text: str
    speaker: str | None
    show: str | None
    date: str


class _ItemCore(TypedDict):
    rank: int | None
    score: float
    insight: Insight


class BriefItem(_ItemCore, total=False):
    """One ranked item of a brief (docs/architecture.md, "Brief format")."""

    why: dict[str, float]
    reasons: list[str]
    duplicates: list[str]
    related: list[RelatedInsight]
    earlier: list[EarlierLink]


class DeliveredItem(BriefItem):
    date: str  # of the brief it was delivered in


Brief = dict[str, Any]  # the document: its items are BriefItems (the JSON Schema has the rest)


def brief_file(paths: Paths, date: dt.date) -> Path:
    return paths.briefs_dir / f"{date.isoformat()}.json"


def atom_file(paths: Paths) -> Path:
    return paths.briefs_dir / "feed.atom"


def stored_dates(paths: Paths) -> list[dt.date]:
    """Dates that have a stored brief, newest first."""
    if not paths.briefs_dir.is_dir():
        return []
    names = (p.name for p in paths.briefs_dir.iterdir() if _DATE_FILE.match(p.name))
    return sorted((dt.date.fromisoformat(name[:-5]) for name in names), reverse=True)


def check(brief: Any, source: str) -> Brief:
    """Raise InputError unless `brief` looks like a podbrief.brief/1 document."""
    expect_schema(brief, SCHEMA, source, "podbrief brief")
    items = brief.get("items")
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("insight"), dict) and isinstance(item["insight"].get("id"), str)
        for item in items
    ):
        raise InputError(f"{source}: corrupt brief (items must be a list of ranked insights)")
    return brief


def load(paths: Paths, date: dt.date) -> Brief:
    path = brief_file(paths, date)
    if not path.exists():
        dates = ", ".join(d.isoformat() for d in stored_dates(paths)[:5]) or "none yet"
        raise UsageError(f"no brief for {date.isoformat()} (latest: {dates})")
    return check(read_json(path), str(path))


def latest(paths: Paths) -> Brief:
    dates = stored_dates(paths)
    if not dates:
        raise UsageError("no brief yet: run `podbrief today` (or `podbrief demo` to try it)")
    return load(paths, dates[0])


def sources(paths: Paths) -> set[tuple[str, str]]:
    """(episode id, extracted at) of every episode some stored brief was made from."""
    return {(source["episode_id"], source["extracted_at"])
            for date in stored_dates(paths) for source in load(paths, date).get("sources", [])}


def save(paths: Paths, brief: Brief) -> Path:
    """Store `brief` atomically and refresh the Atom feed of past briefs.

    The feed is rendered first: a brief that cannot be rendered is not stored, so the next
    run makes it again instead of finding "nothing new".
    """
    date = dt.date.fromisoformat(brief["date"])
    path = brief_file(paths, date)
    check(brief, str(path))
    others = [load(paths, day) for day in stored_dates(paths)[:ATOM_ENTRIES + 1] if day != date]
    atom = render.atom(sorted([brief, *others], key=lambda b: b["date"], reverse=True)[:ATOM_ENTRIES])
    atomic_write_json(path, brief)
    atomic_write_text(atom_file(paths), atom)
    return path
