"""Transcripts: publisher transcript parsers (VTT, SRT, Podcasting 2.0 JSON and HTML, Markdown),
the `podbrief.transcript/1` document, and exports (json, txt, srt, vtt).

Every parser yields cues (start, end, text, speaker); `merge_cues` then joins a
speaker's consecutive cues into segments of at most 30 s, about the size of an ASR
window, so word-level JSON and line-level SRT give segments of the same shape.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import srt
import webvtt

from podbrief.errors import InputError
from podbrief.formats import is_number
from podbrief.formats.documents import TRANSCRIPT
from podbrief.store import expect_schema, read_json, sha256_file

SCHEMA = TRANSCRIPT.schema
# Publisher formats, best first: JSON and VTT name their speakers explicitly.
PUBLISHER_FORMATS = ("json", "vtt", "srt", "html", "md")
MEDIA_TYPES = {  # the podcast:transcript type attribute -> format
    "application/json": "json", "text/vtt": "vtt", "application/x-subrip": "srt", "application/srt": "srt",
    "text/srt": "srt", "text/html": "html", "text/markdown": "md",
}
MAX_SEGMENT_SECONDS = 30.0
MIN_SPLIT_SECONDS = 15.0  # past this, a segment also ends where a sentence ends
MAX_GAP_SECONDS = 1.0
_SENTENCE_END = (".", "?", "!", "…", '."', '?"', '!"')
# "Jane Smith: text" at the start of a cue: 1-4 capitalised words, then a colon.
_LABEL = re.compile(r"^\s*([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}):\s+(.*)$", re.DOTALL)


@dataclass
class Cue:
    start: float
    end: float | None  # None: unknown (HTML gives start times only)
    text: str
    speaker: str | None = None


# --- parsers -----------------------------------------------------------------------------


def parse_publisher(path: Path, persons: Sequence[str] = (), duration: float | None = None) -> list[dict[str, Any]]:
    """Parse a publisher transcript file (format from its suffix) into transcript segments.

    `persons` (episode.json names) confirm "Name: text" speaker labels that occur only once;
    `duration` ends the last segment of a format without end times.
    """
    kind = path.suffix.lower().lstrip(".")
    if kind not in PUBLISHER_FORMATS:
        raise InputError(f"{path}: unsupported transcript format {kind!r} (supported: {', '.join(PUBLISHER_FORMATS)})")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read transcript ({exc})") from None
    parser = {"vtt": parse_vtt, "srt": parse_srt, "json": parse_json, "html": parse_html, "md": parse_markdown}[kind]
    try:
        cues = parser(text)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if kind in ("vtt", "srt"):
        cues = _label_speakers(cues, persons)
    segments = merge_cues(cues, duration)
    if not segments:
        raise InputError(f"{path}: the transcript has no text")
    return segments


def parse_vtt(text: str) -> list[Cue]:
    try:
        captions = webvtt.from_string(text).captions
    except webvtt.errors.MalformedFileError as exc:
        raise InputError(f"not a valid WebVTT file ({exc})") from None
    return [
        Cue(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000,
            html.unescape(c.text), html.unescape(c.voice) if c.voice else None)
        for c in captions
    ]


def parse_srt(text: str) -> list[Cue]:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise InputError(f"not a valid SRT file ({exc})") from None
    return [Cue(s.start.total_seconds(), s.end.total_seconds(), html.unescape(s.content)) for s in subtitles]


def parse_json(text: str) -> list[Cue]:
    """Podcasting 2.0 JSON: {"version": ..., "segments": [{"speaker", "startTime", "endTime", "body"}]}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise InputError("not a Podcasting 2.0 JSON transcript (no \"segments\" list)")
    cues = []
    for number, item in enumerate(data["segments"], 1):
        try:
            start, end, body = float(item["startTime"]), float(item["endTime"]), item["body"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"segment {number}: needs numeric startTime/endTime and a body") from None
        speaker = item.get("speaker")
        cues.append(Cue(start, end, str(body), str(speaker) if speaker else None))
    return cues


class _HtmlTranscript(HTMLParser):
    """Podcasting 2.0 HTML: repeated <cite>Speaker:</cite> <time>0:00</time> <p>text</p>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cues: list[Cue] = []
        self.speaker: str | None = None
        self.start: float | None = None
        self.tag: str | None = None
        self.buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("cite", "time", "p"):
            self.tag, self.buffer = tag, []

    def handle_data(self, data: str) -> None:
        if self.tag:
            self.buffer.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self.tag:
            return
        text = " ".join("".join(self.buffer).split())
        if tag == "cite":
            self.speaker = text.rstrip(":").strip() or None
        elif tag == "time":
            self.start = parse_clock(text)
        elif text:
            if self.start is None:
                raise InputError("a <p> paragraph has no <time> before it")
            self.cues.append(Cue(self.start, None, text, self.speaker))
        self.tag = None


def parse_html(text: str) -> list[Cue]:
    parser = _HtmlTranscript()
    parser.feed(text)
    parser.close()
    return parser.cues


# "**Jane Doe:** text" opens a turn; "\\[12:34\\]" (or "[01:02:03.45]") marks the time at that point;
# "[laughter]", "[unintelligible 00:03:25.09]" are annotations, not speech.
_MD_TURN = re.compile(r"^\*\*([^*\n]{1,80}?):?\*\*:?\s*(.*)$", re.DOTALL)
_MD_STAMP = re.compile(r"\\?\[(?:[a-z ]*?\s)?(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?)\\?\]")
_MD_NOTE = re.compile(r"\\?\[[^\]\n]{0,60}?\\?\]")
WORDS_PER_SECOND = 2.5  # conversational speech, about 150 words a minute: times between stamps


def parse_markdown(text: str) -> list[Cue]:
    """Speaker-labelled Markdown, as Changelog and others publish: one cue per paragraph.

    Most paragraphs carry no time, so times are interpolated by word count between the
    stamps the text has, and past the last one at WORDS_PER_SECOND. "**Break**" paragraphs
    (where the show's ads were cut) are dropped.
    """
    paragraphs: list[tuple[str | None, str, list[tuple[int, float]]]] = []
    speaker: str | None = None
    for block in re.split(r"\n\s*\n", text.strip()):
        block = " ".join(block.split())
        if match := _MD_TURN.match(block):
            speaker, block = match.group(1).strip(), match.group(2)
            if speaker.lower() == "break":
                speaker = None
        stamps = [(len(_MD_NOTE.sub(" ", block[:m.start()]).split()), parse_clock(m.group(1)))
                  for m in _MD_STAMP.finditer(block)]
        spoken = " ".join(_MD_NOTE.sub(" ", block).replace("\\", "").split())
        paragraphs.append((speaker, spoken if speaker else "", stamps))
    anchors: list[tuple[int, float]] = [(0, 0.0)]
    position = 0
    for _, spoken, stamps in paragraphs:
        anchors += [(position + offset, seconds) for offset, seconds in stamps if seconds >= anchors[-1][1]]
        position += len(spoken.split())
    cues = []
    position = 0
    for who, spoken, _ in paragraphs:
        count = len(spoken.split())
        if count:
            cues.append(Cue(_time_of(position, anchors), _time_of(position + count, anchors), spoken, who))
        position += count
    if not cues:
        raise InputError("no '**Speaker:** text' paragraphs found")
    return cues


def _time_of(word: int, anchors: list[tuple[int, float]]) -> float:
    """The time of the `word`-th spoken word, interpolated between stamped words."""
    before = [a for a in anchors if a[0] <= word][-1]
    after = next((a for a in anchors if a[0] > word), None)
    if after is None or after[1] <= before[1]:
        return before[1] + (word - before[0]) / WORDS_PER_SECOND
    return before[1] + (after[1] - before[1]) * (word - before[0]) / (after[0] - before[0])


def parse_clock(value: str) -> float:
    """"1:02:03.5", "2:03" or "63" -> seconds."""
    parts = value.strip().split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"not a time: {value!r}") from None
    if len(numbers) > 3 or any(n < 0 for n in numbers):
        raise InputError(f"not a time: {value!r}")
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


def _label_speakers(cues: list[Cue], persons: Sequence[str]) -> list[Cue]:
    """Take "Name: text" labels as speakers, carried to the following cues until the next label.

    A label counts if it starts two or more cues or is a known person, so a one-off
    "Note: ..." stays text.
    """
    labels = [(m.group(1) if (m := _LABEL.match(c.text)) else None) for c in cues]
    counts = Counter(label for label in labels if label)
    known = {p.casefold() for p in persons}
    speaker = None
    result = []
    for cue, label in zip(cues, labels):
        if cue.speaker is None and label and (counts[label] >= 2 or label.casefold() in known):
            speaker = label
            cue = Cue(cue.start, cue.end, _LABEL.match(cue.text).group(2), label)  # type: ignore[union-attr]
        elif cue.speaker is None:
            cue = Cue(cue.start, cue.end, cue.text, speaker)
        result.append(cue)
    return result


def merge_cues(cues: Iterable[Cue], duration: float | None = None) -> list[dict[str, Any]]:
    """Join a speaker's consecutive cues into segments: a new segment starts on a speaker
    change, after a gap over 1 s, past 30 s, or past 15 s where a sentence ends.
    Missing end times become the next cue's start."""
    ordered = sorted((c for c in cues if c.text.strip()), key=lambda c: c.start)
    segments: list[dict[str, Any]] = []
    for i, cue in enumerate(ordered):
        end = cue.end
        if end is None:
            end = ordered[i + 1].start if i + 1 < len(ordered) else max(cue.start, duration or cue.start)
        end = max(end, cue.start)
        text = " ".join(cue.text.split())
        last = segments[-1] if segments else None
        if (last and last["speaker"] == cue.speaker and cue.start - last["end"] <= MAX_GAP_SECONDS
                and end - last["start"] <= MAX_SEGMENT_SECONDS
                and not (last["end"] - last["start"] >= MIN_SPLIT_SECONDS and last["text"].endswith(_SENTENCE_END))):
            last["end"] = round(end, 3)
            last["text"] += " " + text
        else:
            segments.append({"start": round(cue.start, 3), "end": round(end, 3), "text": text,
                             "speaker": cue.speaker, "flags": []})
    return segments


# --- the transcript document ------------------------------------------------------------------


def document(*, segments: list[dict[str, Any]], source: str, audio: str, language: str | None,
             duration: float, model: dict[str, Any] | None, episode_id: str | None, created: str) -> dict[str, Any]:
    """A `podbrief.transcript/1` document (see docs/architecture.md)."""
    return {"schema": SCHEMA, "episode_id": episode_id, "source": source, "audio": audio,
            "language": language, "duration": round(duration, 3), "model": model, "created": created,
            "segments": segments}


def read(path: Path) -> dict[str, Any]:
    """Read and check a transcript.json; anything else is an InputError naming the file."""
    data = expect_schema(read_json(path), SCHEMA, path, "podbrief transcript")
    raw = data.get("segments")
    if not isinstance(raw, list):
        raise InputError(f"{path}: corrupt transcript ('segments' is not a list)")
    for number, item in enumerate(raw, start=1):
        if not _is_segment(item):
            raise InputError(f"{path}: corrupt transcript (segment {number} needs start <= end, text, speaker)")
    return data


def _is_segment(item: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return False
    start, end = item.get("start"), item.get("end")
    return (is_number(start) and is_number(end) and 0 <= start <= end
            and isinstance(item.get("speaker"), (str, type(None))))


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: what ASR, publisher transcripts and passages all deal in."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    flags: tuple[str, ...] = ()  # what ASR noticed ("repetition": a decoding loop collapsed)


@dataclass(frozen=True)
class Transcript:
    """A transcript file as extraction uses it."""

    segments: list[Segment]
    duration: float
    sha256: str  # of the file: insights record what they were made from
    episode_id: str | None


def load(path: Path) -> Transcript:
    """`read`, as a Transcript."""
    data = read(path)
    segments = [Segment(float(s["start"]), float(s["end"]), s["text"], s.get("speaker")) for s in data["segments"]]
    duration = data.get("duration")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        duration = max((s.end for s in segments), default=0.0)
    episode_id = data.get("episode_id")
    return Transcript(segments, float(duration), sha256_file(path), episode_id if isinstance(episode_id, str) else None)


# --- exports ------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def to_txt(doc: dict[str, Any]) -> str:
    lines = []
    for seg in doc["segments"]:
        who = f"{seg['speaker']}: " if seg.get("speaker") else ""
        lines.append(f"[{_clock(seg['start'])}] {who}{seg['text']}")
    return "\n".join(lines) + "\n"


def to_srt(doc: dict[str, Any]) -> str:
    subtitles = [
        srt.Subtitle(i, dt.timedelta(seconds=seg["start"]), dt.timedelta(seconds=seg["end"]),
                     f"{seg['speaker']}: {seg['text']}" if seg.get("speaker") else seg["text"])
        for i, seg in enumerate(doc["segments"], 1)
    ]
    return srt.compose(subtitles)


def to_vtt(doc: dict[str, Any]) -> str:
    captions = []
    for seg in doc["segments"]:
        text = html.escape(seg["text"], quote=False)
        if seg.get("speaker"):
            text = f"<v {html.escape(seg['speaker'], quote=False)}>{text}"
        captions.append(webvtt.Caption(_vtt_time(seg["start"]), _vtt_time(seg["end"]), text))
    return webvtt.WebVTT(captions=captions).content


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis % 3_600_000 // 60_000:02d}:{millis % 60_000 // 1000:02d}.{millis % 1000:03d}"


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


EXPORTERS = {"json": to_json, "txt": to_txt, "srt": to_srt, "vtt": to_vtt}
FORMATS = tuple(EXPORTERS)
