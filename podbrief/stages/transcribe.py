"""The transcribe stage: an episode's publisher transcript or audio -> transcript.json.

Publisher transcripts are parsed in this process (milliseconds). Audio goes to N
worker processes (`transcribe.workers`, 0 = one per CPU core), each loading the
model once and decoding with `transcribe.threads` CTranslate2 threads: on this kind
of machine one thread per process beats two threads in one process. On a GPU
(`transcribe.device`) one engine in this process does all the work.

With fewer episodes than workers and `transcribe.split_episodes` on, each episode is
split: this process decodes its audio, finds its speech windows and, with
`transcribe.diarize`, its speakers once over the whole episode; each worker decodes
a consecutive run of the (already labelled) windows, and the parts' segments are
stitched back in order. So a speaker has one label across the parts, and the stitched
transcript is named from the voiceprints like any other.

Results come back here, where the transcript is written atomically (a split one only
when all its parts are back) and the index updated, so a killed run leaves no
transcript that looks complete and the rerun redoes only the unfinished episodes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
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
from typing import Any, TypeVar, cast

import numpy as np

from podbrief import devices, model_registry, voiceprints
from podbrief.config import Config
from podbrief.engines import diarize
from podbrief.engines.whisper import (
    SAMPLE_RATE,
    Clip,
    Segment,
    Settings,
    WhisperEngine,
    Window,
    language_sample,
    load_audio,
    pack,
    speech_regions,
    speech_windows,
    split_windows,
)
from podbrief.errors import InputError, ModelError, PodbriefError, describe
from podbrief.formats import transcripts
from podbrief.formats.documents import EPISODE, TRANSCRIPT
from podbrief.progress import Bar, Reporter
from podbrief.render import clean
from podbrief.stages import Budget, StageReport
from podbrief.store import Index, Paths, atomic_write_json, read_json, utcnow

OnProgress = Callable[[float, float], None]  # (seconds of audio done, audio duration)
# (job key, part index (0 for a whole job), seconds of audio done in it, the episode's duration)
OnJobProgress = Callable[[str, int, float, float], None]
Decoded = tuple[list[Segment], str]  # (segments, language)
Outcome = dict[str, Any] | str  # a transcript document, or the job's one-line error
T = TypeVar("T")
log = logging.getLogger(__name__)


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


def is_episode_id(name: str) -> bool:
    """A command-line target is an episode ID if it is 16 hex digits and no file has that name."""
    return bool(re.fullmatch(r"[0-9a-f]{16}", name)) and not Path(name).exists()


def settings(config: Config, device: str | None = None) -> Settings:
    """Decoding settings from the config; `device` None means `transcribe.device` (auto: a GPU if there is one)."""
    section = config["transcribe"]
    compute_type = section["compute_type"]
    device = device or devices.whisper_device(config)
    return Settings(beam_size=max(section["beam_size"], 1), batch_size=max(section["batch_size"], 1),
                    vad=section["vad"], language=section["language"] or None, threads=section["threads"],
                    compute_type="float16" if device == "cuda" else compute_type, device=device)


def speaker_model(config: Config, reporter: Reporter) -> str | None:
    """The diarization embedder to use, or None when `transcribe.diarize` is off.

    A missing optional model is one warning line, and transcription goes on without speakers."""
    if not config["transcribe"]["diarize"]:
        return None
    name = config["transcribe"]["speaker_model"]
    try:
        diarize.embedder(name)
    except PodbriefError as exc:
        reporter.say("warning", f"{exc}; transcribing without speaker labels")
        return None
    return name


def worker_count(config: Config) -> int:
    """`transcribe.workers`, 0 meaning the cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, config["transcribe"]["workers"] or cores)


def transcribe_audio(engine: WhisperEngine, model: model_registry.ResolvedModel, job: Job,
                     progress: OnProgress | None = None, embedder: diarize.Embedder | None = None) -> dict[str, Any]:
    """Transcribe one audio file into a transcript document; with `embedder`, a window
    never spans two speakers and every segment carries its speaker label."""
    found = plan(job, engine.settings.vad, embedder)
    decoded = engine.transcribe(found.audio, progress and (lambda done: progress(done, found.duration)), found.windows)
    return _document(job, model, engine.settings, found, decoded)


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


def _document(job: Job, model: model_registry.ResolvedModel, decode: Settings, found: Plan, decoded: Decoded,
              ) -> dict[str, Any]:
    """The transcript document of `job`, from its plan and the segments decoded from it."""
    segments, language = decoded
    doc = transcripts.document(
        segments=[{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "speaker": s.speaker,
                   "flags": s.flags} for s in segments],
        source="asr", audio=job.audio.name, language=language, duration=found.duration,
        model={"name": model.name, "sha256": model.sha256, "settings": decode.to_json(), "speakers": found.speakers},
        episode_id=job.episode_id, created=utcnow())
    doc["voices"] = {label: [round(float(x), 5) for x in voice] for label, voice in found.voices.items()}
    return doc


def transcribe_file(path: Path, paths: Paths, config: Config, reporter: Reporter) -> dict[str, Any]:
    """The loose-file entry point: transcribe any local audio file, with a progress bar."""
    model = model_registry.resolve("whisper", config["transcribe"]["model"], paths)
    engine = _gpu_engine(model, config) or WhisperEngine(model.path, settings(config, "cpu"))
    speakers = speaker_model(config, reporter)
    log.debug("transcribing %s on %s", path.name, engine.settings.device)
    job = Job(path.name, path, None)
    with reporter.bars("seconds") as bars:
        bar, started = bars.add(path.name), time.monotonic()
        return transcribe_audio(engine, model, job, lambda done, total: _advance(bar, done, total, started),
                                diarize.embedder(speakers))


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
    """The place of the entry's format in transcripts.PUBLISHER_FORMATS (best first); unknown formats last."""
    suffix = Path(str(entry["file"])).suffix.lstrip(".").lower()
    order = transcripts.PUBLISHER_FORMATS
    return order.index(suffix) if suffix in order else len(order)


# --- the stage ----------------------------------------------------------------------------------


def run_pending(paths: Paths, config: Config, reporter: Reporter, budget: Budget = Budget(),
                episode_ids: list[str] | None = None) -> StageReport:
    """Transcribe the pending episodes (or `episode_ids`); see the module docstring."""
    report = StageReport("transcribe")
    jobs: list[Job] = []
    titles: dict[str, str] = {}
    with Index(paths) as index:
        wanted_ids = [row["id"] for row in index.pending("transcribe")] if episode_ids is None else episode_ids
        for wanted in wanted_ids:
            row = index.episode(wanted)
            if row is None:
                report.failed[wanted] = "no such episode"
            elif row["transcribed_at"] and paths.episode_file(row["id"], TRANSCRIPT).exists():
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
            model = model_registry.resolve("whisper", config["transcribe"]["model"], paths)
            for job, outcome in _run(jobs, model, config, reporter, budget, titles):
                report.remaining -= 1
                if isinstance(outcome, str):
                    _fail(index, report, job.key, outcome)
                else:
                    outcome = voiceprints.name_transcript(paths, outcome, read_json(paths.episode_file(job.key, EPISODE)))
                    atomic_write_json(paths.episode_file(job.key, TRANSCRIPT), outcome)
                    _done(index, report, job.key)
    return report


def _prepare(paths: Paths, config: Config, episode_id: str) -> Job | None:
    """Write the publisher transcript if there is one to use (None), else return the ASR job."""
    directory = paths.episode_dir(episode_id)
    episode = read_json(paths.episode_file(episode_id, EPISODE))
    publisher_error = None
    if config["transcribe"]["use_publisher_transcripts"]:
        try:
            doc = publisher_transcript(directory, episode)
        except InputError as exc:
            doc, publisher_error = None, exc
        if doc is not None:
            atomic_write_json(paths.episode_file(episode_id, TRANSCRIPT), voiceprints.name_transcript(paths, doc, episode))
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


def _run(jobs: list[Job], model: model_registry.ResolvedModel, config: Config, reporter: Reporter, budget: Budget,
         titles: dict[str, str]) -> Iterator[tuple[Job, Outcome]]:
    """Yield (job, transcript document or one-line error) as jobs finish; start none after the budget."""
    speakers = speaker_model(config, reporter)
    engine = _gpu_engine(model, config)
    workers = 1 if engine else _workers(config, len(jobs))
    if workers == 1 and engine is None:
        engine = WhisperEngine(model.path, settings(config, "cpu"))
    log.debug("transcribing %d episode(s) on %s, %s", len(jobs), engine.settings.device if engine else "cpu",
              "in this process" if engine else f"{workers} worker processes")
    with reporter.bars("seconds") as bars:
        overall = bars.add("all episodes", len(jobs))
        episode_bars: dict[str, Bar] = {}
        started: dict[str, float] = {}
        audio_done: dict[tuple[str, int], float] = {}  # (job key, part) -> seconds of its audio done
        finished: set[str] = set()  # a worker's last events can arrive after its result
        begun = time.monotonic()

        def on_progress(key: str, part: int, done: float, total: float) -> None:
            if key in finished:
                return
            if key not in episode_bars:
                episode_bars[key] = bars.add(clean(titles.get(key, key))[:50])
                started[key] = time.monotonic()
            audio_done[key, part] = done
            _advance(episode_bars[key], sum(s for (k, _), s in audio_done.items() if k == key), total, started[key])
            overall.update(note=_speed(sum(audio_done.values()), begun))

        results = (_run_here(jobs, engine, model, diarize.embedder(speakers), budget, on_progress) if engine
                   else _run_pool(jobs, model, settings(config, "cpu"), speakers, workers, budget, on_progress))
        for job, outcome in results:
            finished.add(job.key)
            overall.update(done=len(finished))
            if job.key in episode_bars:
                episode_bars[job.key].close()
            yield job, outcome


def _workers(config: Config, jobs: int) -> int:
    """How many worker processes: never more than the episodes, unless episodes may be split."""
    workers = worker_count(config)
    return workers if config["transcribe"]["split_episodes"] else min(workers, jobs)


def _gpu_engine(model: model_registry.ResolvedModel, config: Config) -> WhisperEngine | None:
    """The engine on the GPU where `transcribe.device` picks one; None for the CPU (after one warning
    when the GPU was picked but cannot be used)."""
    decode = settings(config)
    if decode.device == "cpu":
        return None
    try:
        return WhisperEngine(model.path, decode)
    except ModelError as exc:
        log.warning("cannot transcribe on the GPU, using the CPU: %s", exc)
        return None


def _attempt(work: Callable[[], T]) -> T | str:
    """Run one job's (or part's) work; every failure becomes that job's one-line error so the others go on."""
    try:
        return work()
    except Exception as exc:
        return describe(exc)


def _transcribe_job(engine: WhisperEngine, model: model_registry.ResolvedModel, job: Job, embedder: diarize.Embedder | None,
                    report: OnJobProgress) -> Outcome:
    """One whole job, here or in a worker: its document, or its one-line error."""
    return _attempt(lambda: transcribe_audio(engine, model, job, lambda done, total: report(job.key, 0, done, total),
                                             embedder))


def _run_here(jobs: list[Job], engine: WhisperEngine, model: model_registry.ResolvedModel, embedder: diarize.Embedder | None,
              budget: Budget, on_progress: OnJobProgress) -> Iterator[tuple[Job, Outcome]]:
    for job in jobs:
        if budget.exhausted():
            return
        yield job, _transcribe_job(engine, model, job, embedder, on_progress)


def _split(job: Job, decode: Settings, embedder: diarize.Embedder | None, parts: int) -> _Stitching | None:
    """Plan an episode here, once (its audio, windows and speakers over the whole episode), and cut
    its windows into `parts` runs; None when it has fewer than two windows (it then runs whole)."""
    found = plan(job, decode.vad, embedder)
    if len(found.windows) < 2:
        return None
    runs = split_windows(found.windows, parts)
    sample = None if decode.language else language_sample(Clip(found.audio), found.windows)
    bounds = [0.0, *(run[0].start for run in runs[1:]), found.duration]
    cut = []
    for index, run in enumerate(runs):
        first = int(run[0].start * SAMPLE_RATE)
        clip = Clip(found.audio[first: int(run[-1].end * SAMPLE_RATE)], first)
        cut.append(Part(job, index, run, clip, sample, bounds[index], bounds[index + 1], found.duration))
    log.debug("%s: split into %d parts of %s windows", job.key, len(cut), "+".join(str(len(run)) for run in runs))
    return _Stitching(job, found, cut, [None] * len(cut))


@dataclass
class _Stitching:
    """A split episode: its plan, its parts and each part's outcome, kept in order as they come back."""

    job: Job
    plan: Plan
    parts: list[Part]
    outcomes: list[Decoded | str | None]

    def add(self, index: int, outcome: Decoded | str) -> bool:
        """Record part `index`'s outcome; True when every part is back."""
        self.outcomes[index] = outcome
        log.debug("%s: part %d/%d done", self.job.key, index + 1, len(self.outcomes))
        return all(o is not None for o in self.outcomes)

    def document(self, model: model_registry.ResolvedModel, decode: Settings) -> Outcome:
        """One document from the parts' segments in order (speakers were found over the whole
        episode before the split); the first failed part's error if any failed."""
        errors = [outcome for outcome in self.outcomes if isinstance(outcome, str)]
        if errors:
            return errors[0]
        decoded = cast(list[Decoded], self.outcomes)
        segments = [segment for found, _ in decoded for segment in found]
        return _document(self.job, model, decode, self.plan, (segments, decoded[0][1]))


# Worker-process state: the engine is loaded once per process by `_init_worker`.
_worker: dict[str, Any] = {}


def _init_worker(model: model_registry.ResolvedModel, decode: Settings, speakers: str | None, events: Any,
                 parent: int) -> None:
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _worker.update(engine=WhisperEngine(model.path, decode), model=model, events=events,
                   embedder=diarize.embedder(speakers))


def _exit_with(parent: int) -> None:
    """End this worker once its parent is gone (kill -9 gives it no chance to end its workers)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _report(*event: Any) -> None:
    """Send a progress event (see OnJobProgress) from a worker to the parent."""
    _worker["events"].put(event)


def _work(job: Job) -> Outcome:
    return _transcribe_job(_worker["engine"], _worker["model"], job, _worker["embedder"], _report)


def _work_part(part: Part) -> Decoded | str:
    """Decode one part's windows (already labelled with their speakers when diarized)."""
    engine: WhisperEngine = _worker["engine"]

    def progress(done: float) -> None:
        _report(part.job.key, part.index, min(done, part.end) - part.start, part.duration)

    def decode() -> Decoded:
        language = engine.language(part.sample)
        segments = engine.decode(part.clip, part.windows, language, progress)
        progress(part.end)
        return segments, language

    return _attempt(decode)


def _run_pool(jobs: list[Job], model: model_registry.ResolvedModel, decode: Settings, speakers: str | None, workers: int,
              budget: Budget, on_progress: OnJobProgress) -> Iterator[tuple[Job, Outcome]]:
    """Keep `workers` jobs (or parts) in flight; progress events come back through a queue.

    With fewer jobs than workers, each job is split into parts so that no worker idles.
    """
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    waiting = list(reversed(jobs))
    parts = workers // len(jobs)
    embedder = diarize.embedder(speakers) if parts > 1 else None  # a split episode is diarized here
    running: dict[Future[Any], tuple[Job, int | None]] = {}  # -> (job, part index; None for a whole job)
    stitching: dict[str, _Stitching] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(model, decode, speakers, events, os.getpid())) as pool, _workers_end_with_this():
        while waiting or running:
            while waiting and len(running) < workers and not budget.exhausted():
                job = waiting.pop()
                split = _attempt(functools.partial(_split, job, decode, embedder, parts)) if parts > 1 else None
                if isinstance(split, str):
                    yield job, split
                    continue
                try:
                    running.update(_submit(pool, job, split))
                except BrokenProcessPool:  # workers died; what has not started stays pending
                    waiting.clear()
                    break
                if split:
                    stitching[job.key] = split
            if not running:
                return
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(events, on_progress)
            for future in finished:
                job, index = running.pop(future)
                outcome = _result(future)
                if index is None:
                    yield job, outcome
                elif stitching[job.key].add(index, outcome):
                    yield job, stitching.pop(job.key).document(model, decode)


def _submit(pool: ProcessPoolExecutor, job: Job, split: _Stitching | None) -> dict[Future[Any], tuple[Job, int | None]]:
    """Start `job` in the pool: whole, or each of its parts when it was split."""
    if split is None:
        return {pool.submit(_work, job): (job, None)}
    return {pool.submit(_work_part, part): (job, part.index) for part in split.parts}


def _result(future: Future[Any]) -> Any:
    """A finished job's or part's outcome; a worker that died is that job's error."""
    try:
        return future.result()
    except Exception as exc:
        return f"transcription worker failed: {type(exc).__name__}: {exc}"


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


def _drain(events: Any, on_progress: OnJobProgress) -> None:
    while True:
        try:
            on_progress(*events.get_nowait())
        except queue.Empty:
            return


# --- progress: a bar per episode plus one overall, each with its real-time factor ----------------


def _speed(audio_seconds: float, started: float) -> str:
    elapsed = time.monotonic() - started
    return f"{audio_seconds / elapsed:.0f}x real time" if elapsed > 0 else ""


def _advance(bar: Bar, done: float, total: float, started: float) -> None:
    bar.update(done, total, _speed(done, started))
