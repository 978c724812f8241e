"""Crafted insights and briefs for the render, brief-storage, delivery and `today` unit tests.

The texts carry the hostile bits feeds and models can produce (rich markup, HTML,
Markdown syntax, control characters, a javascript: link), so every renderer is
tested against them.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from podbrief.store import short_hash

SAMPLE = Path(__file__).parents[1] / "fixtures" / "briefs" / "sample.json"  # beside its renderings


def insight(episode_id: str, n: int, text: str, speaker: str | None = "Deb Schulte", show: str = "Question Period",
            title: str = "Seniors and the pandemic", start: float = 72.0, link: str | None = "auto") -> dict[str, Any]:
    audio = f"https://podcasts.example/{episode_id}.mp3"
    return {
        "id": short_hash(episode_id, str(n)),
        "text": text,
        "speaker": speaker,
        "quote": {"text": f"verbatim words {n}", "start": start, "end": start + 9.5,
                  "link": f"{audio}#t={int(start)}" if link == "auto" else link},
        "kind": "claim",
        "topics": ["seniors"],
        "scores": {"novelty": 0.5, "surprise": 0.4, "actionability": 0.3, "specificity": 0.7},
        "episode": {"id": episode_id, "title": title, "show": show, "published": "2026-11-24T06:00:00Z"},
    }


def sample_brief() -> dict[str, Any]:
    """A brief of two items (one with a related insight), a problem and work remaining; its texts are hostile."""
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


# Run by a browser only if the page lets markup through: it marks the page, which the browser test looks for.
SCRIPT = '<script>document.body.dataset.pwned="script"</script>'
IMAGE = '<img src=x onerror="document.body.dataset.pwned=1">'


def hostile_brief() -> dict[str, Any]:
    """A brief whose every feed and model field is hostile: markup, script, path tricks, NUL and control bytes."""
    brief = sample_brief()
    evil = insight("../../x/..", 9, f"Model text {IMAGE} [bold]loud[/bold] ---\nkey: value ]] | #tag",
                   speaker="[red]Eve[/red] ../../etc/passwd", show=f"{SCRIPT} /Show\x00 with NUL",
                   title=f"{SCRIPT} [bold]Title[/bold] ../../../escape /abs\\win: .. ", start=61.5)
    evil["id"] = "../../../outside"
    evil["quote"]["link"] = 'https://podcasts.example/ep.mp3?a="><script>alert(1)</script>#t=61'
    evil["quote"]["text"] = "</blockquote><script>alert(1)</script> said \"quoted\", =SUM(A1) \u2028next"
    evil["topics"] = ["../topic", "<b>bold</b>"]
    brief["items"].insert(0, {"rank": 1, "score": 4.0, "insight": evil, "why": {"interest": 1.0},
                              "related": [sample_brief()["items"][1]["insight"] | {"similarity": 0.9,
                                                                                  "stance": f"{SCRIPT}agrees"}]})
    for rank, item in enumerate(brief["items"], start=1):
        item["rank"] = rank
    return brief


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for servers to start on, or to be refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
