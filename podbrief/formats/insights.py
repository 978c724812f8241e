"""Insight files (`insights.json`, schema `podbrief.insights/1`): reading, checking and finding them.

`podbrief extract` writes them (stages/extract.py builds the document); rank, today, export
and explain read them only through here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

from podbrief.errors import InputError
from podbrief.formats import is_number
from podbrief.formats.documents import INSIGHTS, is_episode_file
from podbrief.store import Paths, expect_schema, read_json, short_hash


class Quote(TypedDict, total=False):
    text: str  # the transcript's own words
    start: float
    end: float
    link: str | None  # the audio at `start`; None without an enclosure URL


class InsightEpisode(TypedDict, total=False):
    id: str  # always set once read (a loose file's insights share one made-up id)
    title: str | None
    show: str | None
    published: str | None
    audio: str | None


class _InsightCore(TypedDict):
    id: str
    text: str


class Insight(_InsightCore, total=False):
    """One insight as insights.json holds it (docs/architecture.md), and as rank, today and export pass it on."""

    speaker: str | None
    quote: Quote
    kind: str
    topics: list[str]
    scores: dict[str, float]
    context: dict[str, Any]  # the passage it was written from, for the brief's polish; not in briefs
    episode: InsightEpisode
    draft: str  # the text before the brief's polish rewrote it (in briefs only)


def read(path: Path) -> list[Insight]:
    """The insights of one insight file, each with an `episode` block that has an id.

    Raises InputError naming the file when it is not JSON, another kind of file, or malformed.
    """
    data = expect_schema(read_json(path), INSIGHTS.schema, path, "podbrief insight file")
    items = data.get("insights")
    if not isinstance(items, list):
        raise InputError(f"{path}: corrupt insight file ('insights' is not a list)")
    # Loose files may have no episode id: all their insights then count as one episode.
    episode_id = data.get("episode_id") or short_hash(str(path.resolve()))
    insights: list[Insight] = []
    for number, item in enumerate(items, start=1):
        problem = _problem(item)
        if problem:
            raise InputError(f"{path}: corrupt insight file (insight {number}: {problem})")
        given = item.get("episode") or {}
        episode: InsightEpisode = {**given, "id": given.get("id") or episode_id}
        insights.append(cast(Insight, {**item, "episode": episode}))  # checked by _problem
    return insights


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return "not an object"
    if not isinstance(item.get("id"), str) or not re.fullmatch(r"[0-9a-f]+", item["id"]):
        return "'id' must be a hex string"
    if not isinstance(item.get("text"), str) or not item["text"].strip():
        return "'text' must be a non-empty string"
    if not isinstance(item.get("topics", []), list) or not all(isinstance(t, str) for t in item.get("topics", [])):
        return "'topics' must be a list of strings"
    scores = item.get("scores", {})
    if not isinstance(scores, dict) or not all(is_number(v) for v in scores.values()):
        return "'scores' must map names to numbers"
    if not isinstance(item.get("episode", {}), (dict, type(None))):
        return "'episode' must be an object"
    if not isinstance(item.get("speaker"), (str, type(None))):
        return "'speaker' must be a string or null"
    if not _is_quote(item.get("quote", {})):
        return "'quote' must be an object with a text and times 0 <= start <= end"
    return ""


def _is_quote(quote: Any) -> bool:
    if not isinstance(quote, dict):
        return False
    times = [quote[key] for key in ("start", "end") if key in quote]
    return (isinstance(quote.get("text", ""), str) and isinstance(quote.get("link"), (str, type(None)))
            and all(is_number(t) and t >= 0 for t in times) and times == sorted(times))


def files(paths: Paths, targets: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The insight files of `targets`, and a problem line for each target that does not exist.

    No targets: every episode's insights.json in the data dir. A directory: every *.json
    under it except the other per-episode files (episode.json, transcript.json, ...).
    """
    if not targets:
        return sorted(paths.episodes_dir.glob(f"*/{INSIGHTS.file}")), []
    found: list[Path] = []
    problems: list[str] = []
    for target in targets:
        if target.is_dir():
            found += sorted(p for p in target.rglob("*.json") if not is_episode_file(p.name))
        elif target.exists():
            found.append(target)
        else:
            problems.append(f"{target}: no such file or directory")
    return found, problems


@dataclass
class Loaded:
    insights: list[Insight]
    problems: list[str]  # one line per file that could not be read, naming the file
    files: int  # insight files found


def load(paths: Paths, targets: Sequence[Path] = ()) -> Loaded:
    """Read the insight files of `targets` (default: the data dir); a bad file never stops the others."""
    found, problems = files(paths, targets)
    insights: list[Insight] = []
    for path in found:
        try:
            insights += read(path)
        except InputError as exc:
            problems.append(str(exc))
    return Loaded(insights, problems, len(found))
