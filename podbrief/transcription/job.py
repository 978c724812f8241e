"""One transcription job: plan an episode's audio (its speech windows, and with diarization who speaks
in each), decode it with one engine, and make the transcript document. Used in this process, on a GPU,
and in the worker processes of pool.py alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from podbrief import model_registry
from podbrief.engines import diarize
from podbrief.engines.whisper import (
    SAMPLE_RATE,
    Clip,
    Settings,
    WhisperEngine,
    Window,
    load_audio,
    pack,
    speech_regions,
    speech_windows,
)
from podbrief.errors import describe
from podbrief.formats import transcripts
from podbrief.formats.transcripts import Segment
from podbrief.stages import Budget
from podbrief.store import utcnow

OnProgress = Callable[[float, float], None]  # (seconds of audio done, audio duration)
# (job key, part index (0 for a whole job), seconds of audio done in it, the episode's duration)
OnJobProgress = Callable[[str, int, float, float], None]
Decoded = tuple[list[Segment], str]  # (segments, language)
Outcome = dict[str, Any] | str  # a transcript document, or the job's one-line error
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One audio file to transcribe; it crosses into a worker process, so plain data only."""

    key: str  # episode id, or the file name for a loose file
    audio: Path
    episode_id: str | None


@dataclass(frozen=True)
class Plan:
    """One episode's audio and what to decode in it: its speech windows (with diarization each
    within one speaker's turn and labelled with it) and the speakers' voices."""

    audio: np.ndarray
    windows: list[Window]
    voices: dict[str, np.ndarray]
    speakers: str | None  # the diarization embedder's name; None: not diarized

    @property
    def duration(self) -> float:
        return self.audio.size / SAMPLE_RATE


@dataclass(frozen=True)
class Part:
    """A consecutive run of one episode's speech windows, decoded by one worker."""

    job: Job
    index: int
    windows: list[Window]
    clip: Clip  # the episode's audio from the first window's start to the last one's end
    sample: np.ndarray | None  # the episode's first 30 s of speech, to detect the language
    start: float  # this part's share of the progress bar: from here ...
    end: float  # ... to here, in seconds of the episode
    duration: float  # the episode's


def transcribe_audio(engine: WhisperEngine, model: model_registry.ResolvedModel, job: Job,
                     progress: OnProgress | None = None, embedder: diarize.Embedder | None = None) -> dict[str, Any]:
    """Transcribe one audio file into a transcript document; with `embedder`, a window
    never spans two speakers and every segment carries its speaker label."""
    found = plan(job, engine.settings.vad, embedder)
    decoded = engine.transcribe(found.audio, progress and (lambda done: progress(done, found.duration)), found.windows)
    return document(job, model, engine.settings, found, decoded)


def plan(job: Job, vad: bool, embedder: diarize.Embedder | None) -> Plan:
    """Load the job's audio and find its windows to decode (and, with `embedder`, who speaks in each)."""
    audio = load_audio(job.audio)
    windows, voices = diarized_windows(audio, vad, embedder) if embedder else (speech_windows(audio, vad), {})
    return Plan(audio, windows, voices, embedder.name if embedder else None)


def diarized_windows(audio: np.ndarray, vad: bool, embedder: diarize.Embedder,
                     ) -> tuple[list[Window], dict[str, np.ndarray]]:
    """The windows to decode, each within one speaker's turn and labelled with it, and the speakers' voices.

    With a single voice nothing is labelled: the transcript reads as before diarization."""
    regions = speech_regions(audio, vad)
    found = diarize.diarize(audio, [(r.start, r.end) for r in regions], embedder)
    if len(found.voices) < 2:
        return pack(regions), {}
    return pack([Window(t.start, t.end, t.speaker) for t in found.turns]), found.voices


def document(job: Job, model: model_registry.ResolvedModel, decode: Settings, found: Plan, decoded: Decoded,
              ) -> dict[str, Any]:
    """The transcript document of `job`, from its plan and the segments decoded from it."""
    segments, language = decoded
    doc = transcripts.document(
        segments=[{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "speaker": s.speaker,
                   "flags": list(s.flags)} for s in segments],
        source="asr", audio=job.audio.name, language=language, duration=found.duration,
        model={"name": model.name, "sha256": model.sha256, "settings": decode.to_json(), "speakers": found.speakers},
        episode_id=job.episode_id, created=utcnow())
    doc["voices"] = {label: [round(float(x), 5) for x in voice] for label, voice in found.voices.items()}
    return doc


def attempt(work: Callable[[], T]) -> T | str:
    """Run one job's (or part's) work; every failure becomes that job's one-line error so the others go on."""
    try:
        return work()
    except Exception as exc:
        return describe(exc)


def transcribe_job(engine: WhisperEngine, model: model_registry.ResolvedModel, job: Job, embedder: diarize.Embedder | None,
                    report: OnJobProgress) -> Outcome:
    """One whole job, here or in a worker: its document, or its one-line error."""
    return attempt(lambda: transcribe_audio(engine, model, job, lambda done, total: report(job.key, 0, done, total),
                                             embedder))


def run_here(jobs: list[Job], engine: WhisperEngine, model: model_registry.ResolvedModel, embedder: diarize.Embedder | None,
              budget: Budget, on_progress: OnJobProgress) -> Iterator[tuple[Job, Outcome]]:
    for job in jobs:
        if budget.exhausted():
            return
        yield job, transcribe_job(engine, model, job, embedder, on_progress)
