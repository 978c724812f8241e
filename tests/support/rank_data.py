"""Builders for the rank tests: insights, insight files and stored briefs in a test data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podbrief.store import Paths, atomic_write_json

NOW = "2026-11-25T12:00:00Z"
DEFAULT_SCORES = {"surprise": 0.5, "specificity": 0.5, "actionability": 0.5}


def insight(spec: dict[str, Any], now: str = NOW) -> dict[str, Any]:
    """A full podbrief.insights/1 insight from a compact spec: id, episode, text and optionally
    show, speaker, topics, scores, published (default: `now`)."""
    episode = spec["episode"]
    return {
        "id": spec["id"], "text": spec["text"], "speaker": spec.get("speaker"),
        "quote": {"text": spec["text"], "start": 60.0, "end": 70.0, "link": f"https://example.org/{episode}.mp3#t=60"},
        "kind": "claim", "topics": spec.get("topics", []), "scores": spec.get("scores", DEFAULT_SCORES),
        "episode": {"id": episode, "title": f"Episode {episode}", "show": spec.get("show", f"Show {episode}"),
                    "published": spec.get("published", now)},
    }


def write_insights(path: Path, insights: list[dict[str, Any]], episode_id: str | None = None) -> Path:
    atomic_write_json(path, {
        "schema": "podbrief.insights/1", "episode_id": episode_id, "transcript_sha256": "0" * 64,
        "model": {"name": "test", "sha256": "0" * 64}, "prompt_version": "test", "created": NOW,
        "stats": {}, "insights": insights,
    })
    return path


def write_episodes(paths: Paths, insights: list[dict[str, Any]]) -> None:
    """Store `insights` as the data dir's episodes/<episode id>/insights.json files."""
    by_episode: dict[str, list[dict[str, Any]]] = {}
    for item in insights:
        by_episode.setdefault(item["episode"]["id"], []).append(item)
    for episode_id, items in by_episode.items():
        write_insights(paths.episodes_dir / episode_id / "insights.json", items, episode_id)


def write_brief(paths: Paths, date: str, shown: list[dict[str, Any]]) -> None:
    """A stored brief for `date` whose top items are `shown`."""
    items = [{"rank": n, "score": 1.0, "insight": s, "why": {}, "related": []} for n, s in enumerate(shown, 1)]
    atomic_write_json(paths.briefs_dir / f"{date}.json", {
        "schema": "podbrief.brief/1", "date": date, "created": f"{date}T07:00:00Z",
        "window": {"since": f"{date}T00:00:00Z", "until": f"{date}T07:00:00Z"}, "episodes": 1,
        "items": items, "problems": [], "remaining": {},
    })
