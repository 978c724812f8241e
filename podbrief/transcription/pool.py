"""Transcription in worker processes: each loads the model once and decodes whole jobs, or, for a split
episode, one consecutive run of its windows (the episode was planned and diarized once, here in the
parent, so a speaker keeps one label across parts); the parts' segments are stitched back in order.
Progress events come back through a queue; a worker ends when its parent is gone.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, cast

from podbrief import model_registry
from podbrief.engines import diarize
from podbrief.engines.whisper import (
    SAMPLE_RATE,
    Clip,
    Settings,
    WhisperEngine,
    group_size,
    language_sample,
    split_windows,
)
from podbrief.stages import Budget
from podbrief.transcription.job import (
    Decoded,
    Job,
    OnJobProgress,
    Outcome,
    Part,
    Plan,
    attempt,
    document,
    plan,
    transcribe_job,
)

log = logging.getLogger(__name__)


def split_job(job: Job, decode: Settings, embedder: diarize.Embedder | None, parts: int) -> Stitching | None:
    """Plan an episode here, once (its audio, windows and speakers over the whole episode), and cut
    its windows into up to `parts` runs on decoding-group boundaries (an episode of one group stays
    one part); None when it has no speech (it then runs whole)."""
    found = plan(job, decode.vad, embedder)
    runs = split_windows(found.windows, parts, group_size(decode))
    if not runs:
        return None
    sample = None if decode.language else language_sample(Clip(found.audio), found.windows)
    bounds = [0.0, *(run[0].start for run in runs[1:]), found.duration]
    cut = []
    for index, run in enumerate(runs):
        first = int(run[0].start * SAMPLE_RATE)
        clip = Clip(found.audio[first: int(run[-1].end * SAMPLE_RATE)], first)
        cut.append(Part(job, index, run, clip, sample, bounds[index], bounds[index + 1], found.duration))
    log.debug("%s: split into %d parts of %s windows", job.key, len(cut), "+".join(str(len(run)) for run in runs))
    return Stitching(job, found, cut, [None] * len(cut))


@dataclass
class Stitching:
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
        return document(self.job, model, decode, self.plan, (segments, decoded[0][1]))


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
    return transcribe_job(_worker["engine"], _worker["model"], job, _worker["embedder"], _report)


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

    return attempt(decode)


def run_pool(jobs: list[Job], model: model_registry.ResolvedModel, decode: Settings, speakers: str | None, workers: int,
              budget: Budget, on_progress: OnJobProgress) -> Iterator[tuple[Job, Outcome]]:
    """Keep `workers` jobs (or parts) in flight; progress events come back through a queue.

    With at least twice as many workers as jobs, each job is split into `workers // jobs` parts.
    """
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    waiting = list(reversed(jobs))
    parts = workers // len(jobs)
    embedder = diarize.embedder(speakers) if parts > 1 else None  # a split episode is diarized here
    running: dict[Future[Any], tuple[Job, int | None]] = {}  # -> (job, part index; None for a whole job)
    stitching: dict[str, Stitching] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(model, decode, speakers, events, os.getpid())) as pool, _workers_end_with_this():
        while waiting or running:
            while waiting and len(running) < workers and not budget.exhausted():
                job = waiting.pop()
                split = attempt(functools.partial(split_job, job, decode, embedder, parts)) if parts > 1 else None
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


def _submit(pool: ProcessPoolExecutor, job: Job, split: Stitching | None) -> dict[Future[Any], tuple[Job, int | None]]:
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
