"""Publisher transcripts (VTT, SRT, Podcasting 2.0 JSON, HTML) and transcript exports.

Golden files lie beside their fixtures (tests/support/golden.py); after a deliberate change, rewrite
them with `PODBRIEF_UPDATE_GOLDEN=1 pytest tests/test_transcripts.py` and review the diff.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from support.golden import check_json, expected_path, is_expected

from podbrief.errors import InputError
from podbrief.formats import transcripts

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
CASES = sorted(p for p in FIXTURES.glob("*.*") if not is_expected(p))
PERSONS = ["Alice", "Bob"]
DIALOGUE_SECONDS = 15.0


def parse(path: Path) -> list[dict]:
    return transcripts.parse_publisher(path, PERSONS, DIALOGUE_SECONDS if path.stem == "dialogue" else None)


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_publisher_transcript_matches_golden(path: Path) -> None:
    check_json(expected_path(path), parse(path))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_segments_are_ordered_well_formed_and_keep_speakers(path: Path) -> None:
    segments = parse(path)
    assert segments
    assert all(s["text"] and s["speaker"] and s["flags"] == [] and s["start"] <= s["end"] for s in segments)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(segments))


def test_all_four_formats_of_one_dialogue_parse_to_the_same_segments() -> None:
    parsed = {fmt: parse(FIXTURES / f"dialogue.{fmt}") for fmt in ("vtt", "srt", "json", "html")}
    assert parsed["vtt"] == parsed["srt"] == parsed["json"] == parsed["html"]
    assert [(s["speaker"], s["text"]) for s in parsed["vtt"]] == [
        ("Alice", "Welcome to the show. Today we talk about batteries & grids."),
        ("Bob", "Thanks, Alice. Storage prices fell by half in five years."),
        ("Alice", "Is 5 < 10? Yes."),
    ]


def test_a_one_off_label_is_text_unless_it_names_a_person(tmp_path: Path) -> None:
    srt = tmp_path / "t.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nNote: this is read aloud.\n\n"
                   "2\n00:00:02,000 --> 00:00:04,000\nAnd more.\n", encoding="utf-8")
    assert transcripts.parse_publisher(srt)[0] == {
        "start": 0.0, "end": 4.0, "text": "Note: this is read aloud. And more.", "speaker": None, "flags": []}
    assert transcripts.parse_publisher(srt, ["note"])[0]["speaker"] == "Note"


def test_long_turns_are_cut_at_a_sentence_end_after_15_s(tmp_path: Path) -> None:
    words = [{"speaker": "A", "startTime": i, "endTime": i + 1, "body": "Stop." if i % 10 == 9 else "word"}
             for i in range(60)]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"version": "1.0.0", "segments": words}), encoding="utf-8")
    assert [(s["start"], s["end"]) for s in transcripts.parse_publisher(path)] == [(0, 20), (20, 40), (40, 60)]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.json", "{not json", "not valid JSON"),
    ("bad.json", '{"version": "1.0.0"}', 'no "segments" list'),
    ("bad.json", '{"segments": [{"startTime": "x", "endTime": 1, "body": "a"}]}', "segment 1"),
    ("bad.vtt", "this is not webvtt", "not a valid WebVTT file"),
    ("bad.srt", "1\nnonsense --> more\ntext\n", "not a valid SRT file"),
    ("bad.html", "<p>no time before me</p>", "no <time>"),
    ("bad.html", "<time>soon</time><p>text</p>", "not a time"),
    ("empty.vtt", "WEBVTT\n", "no text"),
    ("bad.txt", "hello", "unsupported transcript format"),
])
def test_bad_publisher_transcripts_raise_input_errors_naming_the_file(
        tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        transcripts.parse_publisher(path)
    assert str(path) in str(caught.value)


def _doc(segments: list[dict]) -> dict:
    return transcripts.document(segments=segments, source="publisher", audio="x.vtt", language="en",
                                duration=15.0, model=None, episode_id=None, created="2026-01-01T00:00:00Z")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_srt_and_vtt_exports_parse_back_to_the_same_segments(tmp_path: Path, fmt: str) -> None:
    segments = parse(FIXTURES / "dialogue.vtt")
    path = tmp_path / f"out.{fmt}"
    path.write_text(transcripts.EXPORTERS[fmt](_doc(segments)), encoding="utf-8")
    assert transcripts.parse_publisher(path, PERSONS) == segments


def test_txt_export_has_a_line_per_segment_with_time_and_speaker() -> None:
    segments = parse(FIXTURES / "dialogue.vtt") + [
        {"start": 3725.0, "end": 3726.0, "text": "Unknown voice.", "speaker": None, "flags": []}]
    assert transcripts.to_txt(_doc(segments)).splitlines() == [
        "[00:00:00] Alice: Welcome to the show. Today we talk about batteries & grids.",
        "[00:00:06] Bob: Thanks, Alice. Storage prices fell by half in five years.",
        "[00:00:12] Alice: Is 5 < 10? Yes.",
        "[01:02:05] Unknown voice.",
    ]


def test_json_export_is_the_document_and_reads_back(tmp_path: Path) -> None:
    doc = _doc(parse(FIXTURES / "dialogue.json"))
    path = tmp_path / "transcript.json"
    path.write_text(transcripts.to_json(doc), encoding="utf-8")
    assert transcripts.read(path) == doc
    path.write_text(json.dumps({"schema": "something/else"}), encoding="utf-8")
    with pytest.raises(InputError, match="not a podbrief transcript"):
        transcripts.read(path)


PODCAST = Path(__file__).parent / "fixtures" / "podcasts" / "practical-ai-276-excerpt.md"


def test_a_markdown_transcript_keeps_speakers_and_interpolates_times_between_stamps() -> None:
    segments = transcripts.parse_publisher(PODCAST)
    speakers = {s["speaker"] for s in segments}
    assert speakers == {"Daniel Whitenack", "Nestor Maslej"}
    assert segments[0]["text"].startswith("Welcome to another episode of Practical AI.")
    assert all(a["start"] <= a["end"] <= b["start"] + 1e-6 for a, b in itertools.pairwise(segments))
    stamped = next(s for s in segments if s["text"].startswith("I think thinking about the cost"))
    assert stamped["start"] == pytest.approx(10 * 60 + 2, abs=1)  # the "\[10:02\]" stamp is that word's time
    assert all("\\[" not in s["text"] and "**" not in s["text"] for s in segments)  # markup and stamps removed


def test_markdown_annotations_and_ad_breaks_are_not_speech() -> None:
    text = ("**Ana Ruiz:** Hello there. \\[laughter\\] We start.\n\n**Break**: \\[01:00\\]\n\n"
            "**Bo Li:** \\[01:00\\] After the break [unintelligible 00:01:02.10] we go on.\n\nStill Bo talking.")
    cues = transcripts.parse_markdown(text)
    assert [(c.speaker, c.text) for c in cues] == [
        ("Ana Ruiz", "Hello there. We start."), ("Bo Li", "After the break we go on."), ("Bo Li", "Still Bo talking.")]
    assert cues[1].start == pytest.approx(60.0)
    assert cues[0].end <= cues[1].start
    with pytest.raises(InputError):
        transcripts.parse_markdown("no speaker labels at all")
