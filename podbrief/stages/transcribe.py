"""The transcribe stage: an episode's publisher transcript or audio -> transcript.json.

Publisher transcripts are parsed in this process (milliseconds). Audio goes to N
worker processes (`transcribe.workers`, 0 = one per CPU core), each loading the
model once and decoding with `transcribe.threads` CTranslate2 threads: on this kind
of machine one thread per process beats two threads in one process. Results come
back here, where the transcript is written atomically and the index updated, so a
killed run leaves no transcript that looks complete and the rerun redoes only the
unfinished episodes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from podbrief import models, voiceprints
from podbrief.config import Config, expect_choice
from podbrief.engines import diarize
from podbrief.engines.whisper import SAMPLE_RATE, Settings, WhisperEngine, Window, load_audio, pack, speech_regions
from podbrief.errors import InputError, PodbriefError, describe
from podbrief.formats import transcripts
from podbrief.render import clean
from podbrief.stages import Budget, StageReport
from podbrief.store import Index, Paths, atomic_write_json, read_json, utcnow

TRANSCRIPT_FILE = "transcript.json"
# Publisher formats in order of preference: JSON and VTT name their speakers explicitly.
PUBLISHER_PREFERENCE = ("json", "vtt", "srt", "html")
OnProgress = Callable[[float, float], None]  # (seconds of audio done, audio duration)


@dataclass(frozen=True)
class Job:
    """One audio file to transcribe; it crosses into a worker process, so plain data only."""

    key: str  # episode id, or the file name for a loose file
    audio: Path
    episode_id: str | None


def is_episode_id(name: str) -> bool:
    """A command-line target is an episode ID if it is 16 hex digits and no file has that name."""
    return bool(re.fullmatch(r"[0-9a-f]{16}", name)) and not Path(name).exists()


COMPUTE_TYPES = ("int8", "float32")


def settings(config: Config) -> Settings:
    section = config["transcribe"]
    return Settings(beam_size=max(section["beam_size"], 1), batch_size=max(section["batch_size"], 1),
                    vad=section["vad"], language=section["language"] or None, threads=section["threads"],
                    compute_type=expect_choice(config, "transcribe.compute_type", COMPUTE_TYPES))


SPEAKER_MODELS = ("mfcc", "voice-encoder")


def speaker_model(config: Config, console: Console) -> str | None:
    """The diarization embedder to use, or None when `transcribe.diarize` is off.

    A missing optional model is one warning line, and transcription goes on without speakers."""
    if not config["transcribe"]["diarize"]:
        return None
    name = expect_choice(config, "transcribe.speaker_model", SPEAKER_MODELS)
    try:
        diarize.embedder(name)
    except PodbriefError as exc:
        console.print(Text(f"podbrief: warning: {exc}; transcribing without speaker labels", style="red"),
                      soft_wrap=True)
        return None
    return name


def worker_count(config: Config, jobs: int) -> int:
    """`transcribe.workers`, 0 meaning the cores this process may use; never more than the jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(config["transcribe"]["workers"] or cores, jobs))


def transcribe_audio(engine: WhisperEngine, model: models.ResolvedModel, job: Job,
                     progress: OnProgress | None = None, embedder: diarize.Embedder | None = None) -> dict[str, Any]:
    """Transcribe one audio file into a transcript document; with `embedder`, a window
    never spans two speakers and every segment carries its speaker label."""
    audio = load_audio(job.audio)
    duration = audio.size / SAMPLE_RATE
    windows, voices = diarized_windows(audio, engine, embedder) if embedder else (None, {})
    segments, language = engine.transcribe(audio, progress and (lambda done: progress(done, duration)), windows)
    doc = transcripts.document(
        segments=[{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "speaker": s.speaker,
                   "flags": s.flags} for s in segments],
        source="asr", audio=job.audio.name, language=language, duration=duration,
        model={"name": model.name, "sha256": model.sha256, "settings": engine.settings.to_json(),
               "speakers": embedder.name if embedder else None},
        episode_id=job.episode_id, created=utcnow())
    doc["voices"] = {label: [round(float(x), 5) for x in voice] for label, voice in voices.items()}
    return doc


def diarized_windows(audio: np.ndarray, engine: WhisperEngine, embedder: diarize.Embedder,
                     ) -> tuple[list[Window], dict[str, np.ndarray]]:
    """The windows to decode, each within one speaker's turn and labelled with it, and the speakers' voices.

    With a single voice nothing is labelled: the transcript reads as before diarization."""
    regions = speech_regions(audio, engine.settings.vad)
    found = diarize.diarize(audio, [(r.start, r.end) for r in regions], embedder)
    if len(found.voices) < 2:
        return pack(regions), {}
    return pack([Window(t.start, t.end, t.speaker) for t in found.turns]), found.voices


def transcribe_file(path: Path, paths: Paths, config: Config, console: Console) -> dict[str, Any]:
    """The loose-file entry point: transcribe any local audio file, with a progress bar."""
    model = models.resolve("whisper", config["transcribe"]["model"], paths)
    engine = WhisperEngine(model.path, settings(config))
    speakers = speaker_model(config, console)
    job = Job(path.name, path, None)
    with _progress(console) as bars:
        task = bars.add_task(escape(clean(path.name)), total=None, rtf="")
        started = time.monotonic()
        return transcribe_audio(engine, model, job, lambda done, total: _advance(
            bars, task, done, total, started), diarize.embedder(speakers))


# --- publisher transcripts ---------------------------------------------------------------------


def _episode_file(directory: Path, name: object) -> Path:
    """A file named in episode.json; only a plain file name inside the episode dir is accepted."""
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
        raise InputError(f"{directory / 'episode.json'}: bad file name {name!r}")
    return directory / name


def publisher_transcript(directory: Path, episode: dict[str, Any]) -> dict[str, Any] | None:
    """The episode's best publisher transcript as a transcript document; None if it has none.

    Raises the last parse error when every transcript file is bad.
    """
    entries = sorted((t for t in episode.get("transcripts") or [] if isinstance(t, dict) and t.get("file")),
                     key=_preference)
    persons = [p["name"] for p in episode.get("persons") or [] if isinstance(p, dict) and p.get("name")]
    error: InputError | None = None
    for entry in entries:
        try:
            path = _episode_file(directory, entry["file"])
            segments = transcripts.parse_publisher(path, persons, episode.get("duration"))
        except InputError as exc:
            error = exc
            continue
        return transcripts.document(
            segments=segments, source="publisher", audio=path.name, language=entry.get("language"),
            duration=episode.get("duration") or segments[-1]["end"], model=None,
            episode_id=episode["id"], created=utcnow())
    if error:
        raise error
    return None


def _preference(entry: dict[str, Any]) -> int:
    suffix = Path(str(entry["file"])).suffix.lstrip(".").lower()
    return PUBLISHER_PREFERENCE.index(suffix) if suffix in PUBLISHER_PREFERENCE else len(PUBLISHER_PREFERENCE)


# --- the stage ----------------------------------------------------------------------------------


def run_pending(paths: Paths, config: Config, console: Console, budget: Budget = Budget(),
                episode_ids: list[str] | None = None) -> StageReport:
    """Transcribe the pending episodes (or `episode_ids`); see the module docstring."""
    report = StageReport("transcribe")
    jobs: list[Job] = []
    titles: dict[str, str] = {}
    with Index(paths) as index:
        rows = index.pending("transcribe") if episode_ids is None else [index.episode(i) for i in episode_ids]
        for wanted, row in zip(episode_ids or [r["id"] for r in rows], rows):
            if row is None:
                report.failed[wanted] = "no such episode"
            elif row["transcribed_at"] and (paths.episode_dir(row["id"]) / TRANSCRIPT_FILE).exists():
                report.skipped += 1
            elif not row["fetched_at"]:
                report.failed[row["id"]] = "not fetched yet"
            else:
                titles[row["id"]] = row["title"] or row["id"]
                try:
                    job = _prepare(paths, config, row["id"])
                except PodbriefError as exc:
                    _fail(index, report, row["id"], str(exc))
                    continue
                if job is None:
                    _done(index, report, row["id"])
                else:
                    jobs.append(job)
        report.remaining = len(jobs)
        if jobs and not budget.exhausted():
            model = models.resolve("whisper", config["transcribe"]["model"], paths)
            for job, outcome in _run(jobs, model, config, console, budget, titles):
                report.remaining -= 1
                if isinstance(outcome, str):
                    _fail(index, report, job.key, outcome)
                else:
                    directory = paths.episode_dir(job.key)
                    outcome = voiceprints.name_transcript(paths, outcome, read_json(directory / "episode.json"))
                    atomic_write_json(directory / TRANSCRIPT_FILE, outcome)
                    _done(index, report, job.key)
    return report


def _prepare(paths: Paths, config: Config, episode_id: str) -> Job | None:
    """Write the publisher transcript if there is one to use (None), else return the ASR job."""
    directory = paths.episode_dir(episode_id)
    episode = read_json(directory / "episode.json")
    publisher_error = None
    if config["transcribe"]["use_publisher_transcripts"]:
        try:
            doc = publisher_transcript(directory, episode)
        except InputError as exc:
            doc, publisher_error = None, exc
        if doc is not None:
            atomic_write_json(directory / TRANSCRIPT_FILE, voiceprints.name_transcript(paths, doc, episode))
            return None
    if not episode.get("audio_file"):
        raise publisher_error or InputError("no audio downloaded for this episode")
    return Job(episode_id, _episode_file(directory, episode["audio_file"]), episode_id)


def _done(index: Index, report: StageReport, episode_id: str) -> None:
    index.mark_done(episode_id, "transcribe")
    report.done.append(episode_id)


def _fail(index: Index, report: StageReport, episode_id: str, error: str) -> None:
    index.mark_failed(episode_id, "transcribe", error)
    report.failed[episode_id] = error


# --- running jobs: in this process or in worker processes ----------------------------------------


def _run(jobs: list[Job], model: models.ResolvedModel, config: Config, console: Console, budget: Budget,
         titles: dict[str, str]) -> Iterator[tuple[Job, dict[str, Any] | str]]:
    """Yield (job, transcript document or one-line error) as jobs finish; start none after the budget."""
    workers, engine_settings = worker_count(config, len(jobs)), settings(config)
    speakers = speaker_model(config, console)
    with _progress(console) as bars:
        overall = bars.add_task("all episodes", total=len(jobs), rtf="")
        tasks: dict[str, TaskID] = {}
        started: dict[str, float] = {}
        audio_done: dict[str, float] = {}
        finished: set[str] = set()  # a worker's last events can arrive after its result
        begun = time.monotonic()

        def on_progress(key: str, done: float, total: float) -> None:
            if key in finished:
                return
            if key not in tasks:
                tasks[key] = bars.add_task(escape(clean(titles.get(key, key))[:50]), total=None, rtf="")
                started[key] = time.monotonic()
            _advance(bars, tasks[key], done, total, started[key])
            audio_done[key] = done
            elapsed = time.monotonic() - begun
            bars.update(overall, rtf=f"{sum(audio_done.values()) / elapsed:.0f}x real time" if elapsed > 0 else "")

        results = (_run_here(jobs, model, engine_settings, speakers, budget, on_progress) if workers == 1
                   else _run_pool(jobs, model, engine_settings, speakers, workers, budget, on_progress))
        for job, outcome in results:
            bars.advance(overall)
            finished.add(job.key)
            if job.key in tasks:
                bars.remove_task(tasks[job.key])
            yield job, outcome


def _attempt(engine: WhisperEngine, model: models.ResolvedModel, job: Job,
             progress: OnProgress, embedder: diarize.Embedder | None) -> dict[str, Any] | str:
    """One job; every failure becomes that job's one-line error so the others go on."""
    try:
        return transcribe_audio(engine, model, job, progress, embedder)
    except Exception as exc:
        return describe(exc)


def _run_here(jobs: list[Job], model: models.ResolvedModel, decode: Settings, speakers: str | None,
              budget: Budget, on_progress: Callable[[str, float, float], None],
              ) -> Iterator[tuple[Job, dict[str, Any] | str]]:
    engine = WhisperEngine(model.path, decode)
    embedder = diarize.embedder(speakers)
    for job in jobs:
        if budget.exhausted():
            return
        yield job, _attempt(engine, model, job, lambda done, total, key=job.key: on_progress(key, done, total),
                            embedder)


# Worker-process state: the engine is loaded once per process by `_init_worker`.
_worker: dict[str, Any] = {}


def _init_worker(model: models.ResolvedModel, decode: Settings, speakers: str | None, events: Any,
                 parent: int) -> None:
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _worker.update(engine=WhisperEngine(model.path, decode), model=model, events=events,
                   embedder=diarize.embedder(speakers))


def _exit_with(parent: int) -> None:
    """End this worker once its parent is gone (kill -9 gives it no chance to end its workers)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _work(job: Job) -> dict[str, Any] | str:
    events = _worker["events"]
    return _attempt(_worker["engine"], _worker["model"], job,
                    lambda done, total: events.put((job.key, done, total)), _worker["embedder"])


def _run_pool(jobs: list[Job], model: models.ResolvedModel, decode: Settings, speakers: str | None, workers: int,
              budget: Budget, on_progress: Callable[[str, float, float], None],
              ) -> Iterator[tuple[Job, dict[str, Any] | str]]:
    """Keep `workers` jobs in flight; progress events come back through a queue."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    waiting = list(reversed(jobs))
    running: dict[Future[dict[str, Any] | str], Job] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(model, decode, speakers, events, os.getpid())) as pool, _workers_end_with_this():
        while waiting or running:
            while waiting and len(running) < workers and not budget.exhausted():
                try:
                    future = pool.submit(_work, waiting[-1])
                except BrokenProcessPool:  # workers died; what has not started stays pending
                    waiting.clear()
                    break
                running[future] = waiting.pop()
            if not running:
                return
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(events, on_progress)
            for future in finished:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:
                    outcome = f"transcription worker failed: {type(exc).__name__}: {exc}"
                yield job, outcome


@contextlib.contextmanager
def _workers_end_with_this() -> Iterator[None]:
    """On Ctrl-C, SIGTERM (the CLI makes it a KeyboardInterrupt) or any failure, end the workers at once:
    leaving the pool would otherwise wait for the episodes they are decoding."""
    try:
        yield
    except BaseException:
        for process in multiprocessing.active_children():
            process.terminate()
        raise


def _drain(events: Any, on_progress: Callable[[str, float, float], None]) -> None:
    while True:
        try:
            on_progress(*events.get_nowait())
        except queue.Empty:
            return


# --- progress display ----------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    """A bar per episode plus one overall, each with its real-time factor; only on a terminal, not under --quiet."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TextColumn("{task.fields[rtf]}"), TimeElapsedColumn(), console=console,
                    disable=console.quiet or not console.is_terminal, transient=True)


def _advance(bars: Progress, task: TaskID, done: float, total: float, started: float) -> None:
    elapsed = time.monotonic() - started
    bars.update(task, total=total, completed=done, rtf=f"{done / elapsed:.0f}x real time" if elapsed > 0 else "")
