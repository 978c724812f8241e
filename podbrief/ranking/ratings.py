"""Ratings (`podbrief rate`): ratings.json, {insight id: {"rating": +1|-1, ...}}, read by the feedback score."""

from __future__ import annotations

from typing import Any

from podbrief.errors import InputError
from podbrief.formats.documents import RATINGS
from podbrief.formats.insights import Insight
from podbrief.store import Paths, atomic_write_json, read_json, update_lock, utcnow


def load(paths: Paths) -> dict[str, dict[str, Any]]:
    """ratings.json: {insight id: {"rating": +1|-1, "rated_at", and the insight's text, topics, speaker, show}}."""
    path = paths.ratings_file
    if not path.exists():
        return {}
    data = read_json(path)
    ratings = data.get("ratings") if isinstance(data, dict) and data.get("schema") == RATINGS.schema else None
    if not isinstance(ratings, dict) or not all(
        isinstance(r, dict) and r.get("rating") in (1, -1) and isinstance(r.get("text"), str) for r in ratings.values()
    ):
        raise InputError(f"{path}: corrupt ratings file (expected schema {RATINGS.schema!r}); fix or delete it")
    return ratings


def rate(paths: Paths, insight: Insight, vote: int) -> None:
    """Record +1/-1 for `insight`, keeping what ranking needs even after its episode is deleted.

    Takes its own short lock rather than the run lock, so rating works while `today` runs.
    """
    with update_lock(paths.ratings_file):
        ratings = load(paths)
        ratings[insight["id"]] = {
            "rating": vote, "rated_at": utcnow(), "text": insight["text"], "topics": insight.get("topics") or [],
            "speaker": insight.get("speaker"), "show": (insight.get("episode") or {}).get("show"),
        }
        atomic_write_json(paths.ratings_file, {"schema": RATINGS.schema, "ratings": ratings})
