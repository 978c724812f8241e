"""End to end with real models: add a feed served by the local HTTP server -> today -> the brief.

Two feeds carry the three bundled demo episodes (7.8 minutes of espeak-ng speech: two Practical AI
interview excerpts with their publisher's WebVTT transcript with speaker names, and one audio only, so
tiny.en transcribes it, diarization finds its two voices and the feed's people name them; the
ASR path is tested on real speech in test_transcribe.py and test_diarize.py), extracted by the default GGUF (Qwen 1.5B) and the finalists polished by it: the smallest
one (smollm2-135m) extracts no valid insight from them, so it cannot show that grounding,
verification and related insights (where any are found) work. A brief of 3 items, to bound the polish's time. `podbrief demo` itself,
the same work through its own server, is the slow test at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from podbrief import demo, render
from podbrief.cli import app
from podbrief.errors import ExitStatus

runner = CliRunner()
SCHEMA = json.loads((Path(render.__file__).parent / "schemas" / "brief-1.schema.json").read_text())


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def check_grounded(brief: dict, home: Path) -> None:
    """Every insight shown (top or related) quotes its own episode's transcript, at a time inside it."""
    shown = [item["insight"] for item in brief["items"]] + [r for item in brief["items"] for r in item["related"]]
    for insight in shown:
        transcript = json.loads((home / "episodes" / insight["episode"]["id"] / "transcript.json").read_text())
        spoken = words(" ".join(segment["text"] for segment in transcript["segments"]))
        assert words(insight["quote"]["text"]) in spoken, insight
        assert 0 <= insight["quote"]["start"] < insight["quote"]["end"] <= transcript["duration"] + 1


def test_add_feed_then_today_makes_a_grounded_verified_brief(home, server, set_config):
    set_config(rank={"top": 3}, extract={"min_insights": 2})
    now = dt.datetime.now(dt.timezone.utc)
    served = []
    for show in demo.shows():
        for episode in show["episodes"]:
            server.add(f"audio/{episode['audio']}", demo.audio(episode["audio"]))
            if episode["transcript"]:
                server.add(f"transcripts/{episode['transcript']}", demo.transcript(episode["transcript"]))
            served.append(episode["title"])
        url = server.add(f"{show['slug']}.xml", demo.feed_xml(show, server.base_url, now))
        assert runner.invoke(app, ["add", url]).exit_code == 0

    result = runner.invoke(app, ["today", "--json"])
    assert result.exit_code == 0, result.output
    brief = json.loads(result.stdout)
    jsonschema.validate(brief, SCHEMA)
    assert brief["problems"] == [] and len(brief["sources"]) >= 2
    assert len(brief["items"]) >= 2
    assert {item["insight"]["episode"]["title"] for item in brief["items"]} <= set(served)
    for item in brief["items"]:
        assert all(r["episode"]["id"] != item["insight"]["episode"]["id"] for r in item["related"])
        assert item["insight"]["quote"]["link"].startswith(f"{server.base_url}/audio/")
    check_grounded(brief, home)
    for item in brief["items"]:
        assert item["insight"]["scores"]["faithful"] >= 0.6  # verified at extraction (and again by polish)
        assert "context" not in item["insight"]  # the reader gets the insight, not the answer it came from
    # Publisher transcripts with speaker names, and one episode through ASR and diarization: every voice, and so
    # every insight, carries a listed person's name.
    persons = {person["name"] for show in demo.shows() for episode in show["episodes"] for person in episode["persons"]}
    assert {item["insight"]["speaker"] for item in brief["items"]} <= persons
    transcripts = [json.loads(path.read_text()) for path in (home / "episodes").glob("*/transcript.json")]
    assert sorted(t["source"] for t in transcripts) == ["asr", "publisher", "publisher"]
    heard = next(t for t in transcripts if t["source"] == "asr")
    assert {s["speaker"] for s in heard["segments"]} == {"Rhian Evans", "Don Davies"}

    again = runner.invoke(app, ["today"])
    assert again.exit_code == ExitStatus.NOTHING_NEW
    assert json.loads(runner.invoke(app, ["brief", "--json"]).stdout) == brief


@pytest.mark.slow
def test_demo_ends_with_a_real_brief(home, tmp_path):
    result = runner.invoke(app, ["demo", "--home", str(tmp_path / "demo"), "--json"])
    assert result.exit_code == 0, result.output
    brief = json.loads(result.stdout)
    jsonschema.validate(brief, SCHEMA)
    assert brief["problems"] == []
    assert {item["insight"]["episode"]["show"] for item in brief["items"]} == {s["title"] for s in demo.shows()}
    check_grounded(brief, tmp_path / "demo")
