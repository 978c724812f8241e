"""A thin wrapper over faster-whisper: decode audio once, find the speech, decode it in windows.

We run Silero VAD ourselves and pack the speech into contiguous windows of at most
30 s (Whisper's input length). Each window keeps its true position in the audio, so
segment timestamps need no remapping, a window that loops can be re-decoded alone,
and progress is reported as windows finish.

Batched decoding runs without timestamp tokens: with them, tiny.en ended a third of
the windows early and the batched pipeline (which never re-seeks) lost the rest; on the
21-minute benchmark episode the WER rose from 15.7% to 19.3%. So a batched window is one
segment. The encoder's fixed 30 s input dominates the cost, which is why windows are
packed as full as the pauses allow. Measurements and what else was tried: docs/transcribe.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio
from faster_whisper.vad import VadOptions, get_speech_timestamps

from podbrief.errors import InputError, ModelError
from podbrief.formats.transcripts import Segment

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30.0
VAD_BLOCK_SECONDS = 600
VAD_MIN_SILENCE_MS = 100
# A file whose decoded length falls this far short of the length its header declares is truncated.
TRUNCATED_BELOW = 0.9
# OpenAI Whisper's thresholds: text that compresses better than this is a loop, and a
# window the model itself thinks is silence (and is unsure of its text) is dropped.
COMPRESSION_RATIO_LIMIT = 2.4
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# faster-whisper rounds a window's start to 10 ms frames, so its first segment may start a little before it.
START_SLACK = 0.02
MIN_SEGMENT_SECONDS = 0.001  # transcripts keep times to 1 ms: a shorter segment would have start == end
# Bracketed sound descriptions and music notes that Whisper emits for non-speech.
_NON_SPEECH = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫♬]+")


@dataclass(frozen=True)
class Settings:
    """Decoding settings; recorded in every transcript they produce."""

    beam_size: int = 3  # as transcribe.beam_size's default
    batch_size: int = 8  # windows decoded at once; 1 = sequential decoding
    vad: bool = True
    language: str | None = "en"  # None = detect
    threads: int = 1  # CTranslate2 threads
    compute_type: str = "int8"  # or "float32": more accurate on hard audio, about a third slower
    device: str = "cpu"  # or "cuda" (with compute_type float16)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """A span of the audio, in seconds, decoded as one Whisper input; one speaker's when diarized."""

    start: float
    end: float
    speaker: str | None = None


@dataclass(frozen=True)
class Clip:
    """An episode's samples from sample `origin` on: a worker decoding part of an episode gets only its stretch."""

    samples: np.ndarray
    origin: int = 0

    def span(self, start: float, end: float) -> np.ndarray:
        """The samples from `start` to `end` seconds of the episode (the same ones, whatever the origin)."""
        return self.samples[int(start * SAMPLE_RATE) - self.origin: int(end * SAMPLE_RATE) - self.origin]


def load_audio(path: Path) -> np.ndarray:
    """Decode any audio file once into 16 kHz mono float32; bad files raise InputError."""
    if not path.is_file():
        raise InputError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty audio file (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InputError(f"{path}: no audio stream in the file")
            declared = container.duration / av.time_base if container.duration else None
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a readable audio file ({exc.strerror or exc})") from None
    decoded = audio.size / SAMPLE_RATE
    if decoded == 0:
        raise InputError(f"{path}: no decodable audio in the file")
    if declared and decoded < TRUNCATED_BELOW * declared:
        raise InputError(f"{path}: truncated or corrupt: decoded {decoded:.1f} s of the {declared:.1f} s it declares")
    return audio


def speech_windows(audio: np.ndarray, vad: bool) -> list[Window]:
    """Spans to decode: VAD speech regions packed greedily into windows of at most 30 s."""
    return pack(speech_regions(audio, vad))


def speech_regions(audio: np.ndarray, vad: bool) -> list[Window]:
    """The speech VAD finds, in regions of at most 30 s; without VAD, consecutive 30 s windows."""
    duration = audio.size / SAMPLE_RATE
    if not vad:
        starts = np.arange(0.0, duration, WINDOW_SECONDS)
        return [Window(float(s), float(min(s + WINDOW_SECONDS, duration))) for s in starts]
    # VAD runs block by block: on a whole 3-hour file its copies of the audio take gigabytes. A
    # region cut at a block boundary costs nothing, because packing rejoins it in one window.
    # Splitting at pauses of 100 ms gives small regions that pack windows fuller. On the benchmark
    # episode: 47 windows instead of 51 at 160 ms (faster-whisper's batched default), 3-8% faster,
    # WER 15.7% instead of 13.2%. 100 ms is what keeps tiny.en near 35x real time; both are far
    # better than faster-whisper's defaults (24.5%).
    options = VadOptions(max_speech_duration_s=WINDOW_SECONDS, min_silence_duration_ms=VAD_MIN_SILENCE_MS)
    block = VAD_BLOCK_SECONDS * SAMPLE_RATE
    return [Window((offset + r["start"]) / SAMPLE_RATE, (offset + r["end"]) / SAMPLE_RATE)
            for offset in range(0, audio.size, block)
            for r in get_speech_timestamps(audio[offset: offset + block], options)]


def pack(regions: list[Window]) -> list[Window]:
    """Join consecutive regions of one speaker (or of no known speaker) while they fit in 30 s."""
    windows: list[Window] = []
    for region in regions:
        last = windows[-1] if windows else None
        if last and last.speaker == region.speaker and region.end - last.start <= WINDOW_SECONDS:
            windows[-1] = Window(last.start, region.end, last.speaker)
        else:
            windows.append(region)
    return windows


def language_sample(clip: Clip, windows: list[Window]) -> np.ndarray | None:
    """The first 30 s from the first window on, where the language is detected; None without speech."""
    return clip.span(windows[0].start, windows[0].start + WINDOW_SECONDS) if windows else None


def group_size(settings: Settings) -> int:
    """Windows decoded per call: one batch, and at least 8 so sequential decoding shares the call too."""
    return max(settings.batch_size, 8)


def split_windows(windows: list[Window], parts: int, group: int = 1) -> list[list[Window]]:
    """`windows` in at most `parts` consecutive runs of nearly equal length, the longer runs first.

    Windows never overlap and end at pauses, so a run boundary cuts no word; each window
    costs about the same (the encoder's input is always 30 s), so runs are balanced by count.
    Every run but the last holds a multiple of `group` windows, so each run is decoded in the
    very groups (batches) the whole list would be: a split gives one worker's words exactly.
    """
    if not windows:
        return []
    groups = -(-len(windows) // group)
    parts = min(max(parts, 1), groups)
    edges = [min(len(windows), group * -(-groups * i // parts)) for i in range(parts + 1)]  # ceil(groups * i / parts)
    return [windows[start:end] for start, end in zip(edges, edges[1:])]


# --- repetition loops --------------------------------------------------------------------


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _words(text: str) -> list[str]:
    return [re.sub(r"\W+", "", word.lower()) for word in text.split()]


def _repeat_runs(words: list[str]) -> Iterator[tuple[int, int, int]]:
    """Yield (start, n, count) for each n-gram repeated back to back `count` >= 2 times."""
    for n in range(1, min(len(words) // 2, 10) + 1):
        i = 0
        while i + 2 * n <= len(words):
            count = 1
            while words[i + count * n: i + (count + 1) * n] == words[i: i + n]:
                count += 1
            if count >= 2:
                yield i, n, count
                i += count * n
            else:
                i += 1


def _is_loop(n: int, count: int) -> bool:
    # "very very very" or "no, no, no, no" are speech; a phrase said 4+ times and a word 10+ times are not.
    return count >= 4 and n * count >= 10


def is_repetitive(text: str) -> bool:
    """True when text looks like a decoding loop: it compresses too well or repeats an n-gram."""
    if compression_ratio(text) > COMPRESSION_RATIO_LIMIT:
        return True
    return any(_is_loop(n, count) for _, n, count in _repeat_runs(_words(text)))


def collapse_repeats(text: str) -> str:
    """Keep one copy of every looping n-gram run (the last resort when re-decoding still loops)."""
    tokens = text.split()
    words = _words(text)
    drop: set[int] = set()
    for start, n, count in _repeat_runs(words):
        if _is_loop(n, count):
            drop.update(range(start + n, start + count * n))
    return " ".join(token for i, token in enumerate(tokens) if i not in drop)


def speech_text(text: str) -> str:
    """The text without non-speech annotations like "[Music]" or "♪"."""
    return " ".join(_NON_SPEECH.sub(" ", text).split())


def _speech(segment: Any) -> str:
    """A decoded segment's speech text; empty for non-speech and what the model deems silence."""
    if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOW_LOGPROB:
        return ""
    return speech_text(segment.text)


# --- placing decoded segments in their windows ----------------------------------------------


def place(group: list[Window], offset: float, raw: Iterable[Any], batched: bool) -> list[list[Segment]]:
    """Each window's speech segments from what the decoder gave for `group` (times relative to `offset`).

    Batched decoding runs without timestamps, so a window's text spans the window: it becomes
    one segment with the window's times (the speech VAD found). The decoder gives each window
    its own `seek`, in window order; its times are no guide: it truncates a window's start to
    whole samples and rounds it to 1 ms, so a window could land in the one before it and end
    before it started (issue 12). Sequential decoding has timestamps: its segments go to the
    window they start in (never an earlier one than the segment before) and are fitted into it.
    """
    found: list[list[Segment]] = [[] for _ in group]
    if batched:
        for window, found_here, (_, pieces) in zip(group, found, itertools.groupby(raw, key=lambda s: s.seek)):
            text = " ".join(text for seg in pieces if (text := _speech(seg)))
            if text:
                found_here.append(Segment(window.start, window.end, text, speaker=window.speaker))
        return found
    starts = [w.start for w in group]
    index = 0  # the decoder works through the windows in order, whatever its times say
    for seg in raw:
        text = _speech(seg)
        if text:
            index = max(index, int(np.searchsorted(starts, seg.start + offset + START_SLACK, side="right")) - 1)
            found[index].append(Segment(seg.start + offset, seg.end + offset, text))
    return [_voiced(window, fit_segments(window, pieces)) for window, pieces in zip(group, found)]


def _voiced(window: Window, segments: list[Segment]) -> list[Segment]:
    """The segments of `window`, each with the window's speaker (one voice per window when diarized)."""
    return [dataclasses.replace(segment, speaker=window.speaker) for segment in segments]


def fit_segments(window: Window, pieces: list[Segment]) -> list[Segment]:
    """Fit a window's decoded segments inside it: in order, not overlapping, each with time of its own.

    Whisper's timestamps can fall outside the window, run backwards or collapse to a point. Times
    are clamped to the window and to the previous segment's end; a segment left with no time of
    its own joins its neighbour, so no words are lost and the transcript keeps its invariants.
    """
    placed: list[Segment] = []
    waiting: list[Segment] = []  # timeless segments before the first one with time of its own
    cursor = window.start
    for piece in pieces:
        start = min(max(piece.start, cursor), window.end)
        end = min(max(piece.end, start), window.end)
        if end - start >= MIN_SEGMENT_SECONDS:
            placed.append(_joined([*waiting, Segment(start, end, piece.text, flags=piece.flags)], cursor if waiting else start))
            waiting, cursor = [], end
        elif placed:  # the previous segment's words run on to where this one collapsed
            placed[-1] = _joined([placed[-1], piece], placed[-1].start, end)
            cursor = end
        else:
            waiting.append(piece)
    if waiting:  # nothing had time of its own: the words span the window
        placed.append(_joined(waiting, window.start, window.end))
    return placed


def _joined(segments: list[Segment], start: float, end: float | None = None) -> Segment:
    """One segment with the text and flags of `segments`, from `start` to `end` (default: the last one's end)."""
    flags = tuple(sorted({flag for seg in segments for flag in seg.flags}))
    return Segment(start, segments[-1].end if end is None else end, " ".join(seg.text for seg in segments),
                   flags=flags)


# --- the engine ----------------------------------------------------------------------------


class WhisperEngine:
    """One loaded model. Load once per process; `transcribe` is then cheap to call repeatedly."""

    def __init__(self, model: str | Path, settings: Settings):
        self.settings = settings
        try:
            self.model = WhisperModel(str(model), device=settings.device, compute_type=settings.compute_type,
                                      cpu_threads=settings.threads)
            if settings.device != "cpu":  # a missing CUDA library shows only when the GPU first computes
                list(self.model.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="en", vad_filter=False)[0])
        except Exception as exc:
            raise ModelError(f"cannot load whisper model {model} on {settings.device}: {exc}") from None
        self.pipeline = BatchedInferencePipeline(self.model)

    def transcribe(
        self, audio: np.ndarray, progress: Callable[[float], None] | None = None,
        windows: list[Window] | None = None,
    ) -> tuple[list[Segment], str]:
        """Return (segments, language), each segment with its window's speaker.

        `windows` (default: `speech_windows`) are the spans to decode; `progress` gets the
        seconds of audio done so far."""
        windows = speech_windows(audio, self.settings.vad) if windows is None else windows
        clip = Clip(audio)
        language = self.language(language_sample(clip, windows))
        segments = self.decode(clip, windows, language, progress)
        if progress:
            progress(audio.size / SAMPLE_RATE)
        return segments, language

    def language(self, sample: np.ndarray | None) -> str:
        """The configured language, else the one detected in `sample` (the first 30 s of speech)."""
        if self.settings.language or not self.model.model.is_multilingual:
            return self.settings.language or "en"
        if sample is None or not sample.size:
            return "en"
        language, _, _ = self.model.detect_language(sample)
        return language

    def decode(self, clip: Clip, windows: list[Window], language: str,
               progress: Callable[[float], None] | None = None) -> list[Segment]:
        """The speech segments of `windows`, in order; `progress` gets the end of each group decoded."""
        segments: list[Segment] = []
        size = group_size(self.settings)
        for i in range(0, len(windows), size):
            group = windows[i: i + size]
            for window, found in zip(group, self._decode(clip, group, language)):
                segments.extend(self._check_loops(clip, window, found, language))
            if progress:
                progress(group[-1].end)
        return segments

    def _decode(self, clip: Clip, group: list[Window], language: str) -> list[list[Segment]]:
        """Decode a group of windows; return the speech segments of each window."""
        offset = group[0].start
        piece = clip.span(offset, group[-1].end)
        options = {"language": language, "beam_size": self.settings.beam_size}
        batched = self.settings.batch_size > 1
        if batched:
            raw, _ = self.pipeline.transcribe(
                piece, batch_size=self.settings.batch_size, without_timestamps=True,
                clip_timestamps=[{"start": w.start - offset, "end": w.end - offset} for w in group], **options)
        else:
            raw, _ = self.model.transcribe(
                piece, vad_filter=False, **options,
                clip_timestamps=[t - offset for w in group for t in (w.start, w.end)])
        return place(group, offset, raw, batched)

    def _check_loops(self, clip: Clip, window: Window, segments: list[Segment],
                     language: str) -> list[Segment]:
        """Re-decode a window that loops, without previous-text conditioning and with
        temperature fallback; flag its segments, and collapse a loop that survives."""
        if not is_repetitive(" ".join(seg.text for seg in segments)):
            return segments
        piece = clip.span(window.start, window.end)
        raw, _ = self.model.transcribe(
            piece, language=language, beam_size=self.settings.beam_size, vad_filter=False,
            condition_on_previous_text=False, temperature=FALLBACK_TEMPERATURES,
            compression_ratio_threshold=COMPRESSION_RATIO_LIMIT)
        redone = _voiced(window, fit_segments(window, [Segment(window.start + seg.start, window.start + seg.end, text,
                                                              flags=("repetition",)) for seg in raw if (text := _speech(seg))]))
        text = " ".join(seg.text for seg in redone)
        if is_repetitive(text):  # the loop survived: keep one copy of it in one segment
            return [Segment(redone[0].start, redone[-1].end, collapse_repeats(text), window.speaker, ("repetition",))]
        return redone
