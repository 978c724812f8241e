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

import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podbrief import devices, model_registry, voiceprints
from podbrief.config import Config
from podbrief.engines import diarize
from podbrief.engines.whisper import Settings, WhisperEngine
from podbrief.errors import InputError, ModelError, PodbriefError
from podbrief.formats import transcripts
from podbrief.formats.documents import EPISODE, TRANSCRIPT
from podbrief.progress import Bar, Reporter
from podbrief.render import clean
from podbrief.stages import Budget, StageReport
from podbrief.store import Index, Paths, atomic_write_json, read_json, utcnow
from podbrief.transcription.job import Job, Outcome, run_here, transcribe_audio
from podbrief.transcription.pool import run_pool

log = logging.getLogger(__name__)


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
        raise InputError(f"{directory / EPISODE.file}: bad file name {name!r}")
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

        results = (run_here(jobs, engine, model, diarize.embedder(speakers), budget, on_progress) if engine
                   else run_pool(jobs, model, settings(config, "cpu"), speakers, workers, budget, on_progress))
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


# --- progress: a bar per episode plus one overall, each with its real-time factor ----------------


def _speed(audio_seconds: float, started: float) -> str:
    elapsed = time.monotonic() - started
    return f"{audio_seconds / elapsed:.0f}x real time" if elapsed > 0 else ""


def _advance(bar: Bar, done: float, total: float, started: float) -> None:
    bar.update(done, total, _speed(done, started))
