"""Benchmark `today` end to end on synthetic episodes served from a local feed, against a naive pipeline.

    flock /tmp/podbrief-bench.lock .venv/bin/python benchmarks/today.py [--episodes 2] [--minutes 15]

Episodes: consecutive turns of QMSum parliamentary debates (MIT), one espeak-ng voice
per speaker (needs espeak-ng), 24 kbit/s MP3, cached in --cache. They are served by
the tests' local HTTP server, subscribed in a fresh home and run through the real
`today` with the default config (default models); each stage is timed. Then:

- a rerun with nothing new, in process and as a `podbrief today` subprocess (target: < 1 s);
- the naive baseline on the same audio: faster-whisper with its defaults (beam 5, no VAD,
  no batching) and one LLM prompt with the whole transcript (default GGUF, default threads).

Times are also given per audio hour and extrapolated linearly to 10 one-hour episodes
(the target: 25 minutes on this 2-core machine). The naive prompt cost grows faster than
linearly with length, so its extrapolation flatters it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import make_demo_audio as synth  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402

from podbrief import config as configmod  # noqa: E402
from podbrief import model_registry, subscriptions  # noqa: E402
from podbrief.errors import NothingNew  # noqa: E402
from podbrief.stages import today  # noqa: E402
from podbrief.store import Paths  # noqa: E402
from podbrief.terminal import TerminalReporter  # noqa: E402
from tests.support.localserver import LocalServer, item, rss  # noqa: E402

QMSUM = ROOT.parent / "shared" / "data" / "qmsum"
SOURCES = ["val/covid_2.json", "val/covid_6.json", "train/covid_0.json", "train/covid_1.json"]
VOICES = ["en-us", "en-us+f2", "en-us+m3", "en-us+f3", "en-us+m5", "en-us+m6"]
NAIVE_PROMPT = ("Here is a podcast transcript. List its 8 most important insights as a JSON array of objects "
                "with the keys text, speaker and quote (a verbatim sentence from the transcript).\n\n")


def speaker_name(raw: str) -> str:
    """"Right Hon. Justin Trudeau (Papineau, Lib.)" -> "Justin Trudeau"."""
    name = raw.split("(")[0]
    for title in ("Right Hon.", "Hon.", "Mr.", "Mrs.", "Ms.", "Dr.", "The"):
        name = name.replace(title, "")
    return " ".join(name.split())


def synthesise(source: str, minutes: float, cache: Path) -> tuple[Path, list[str]]:
    """An MP3 of about `minutes` of the debate in `source`; returns it and its speakers."""
    key = hashlib.sha256(f"{source}|{minutes}|{synth.WORDS_PER_MINUTE}".encode()).hexdigest()[:12]
    audio, meta = cache / f"{key}.mp3", cache / f"{key}.json"
    if audio.exists() and meta.exists():
        return audio, json.loads(meta.read_text())
    turns = json.loads((QMSUM / source).read_text())["meeting_transcripts"]
    budget = minutes * synth.WORDS_PER_MINUTE
    pieces, speakers, words = [], [], 0
    pause = np.zeros(int(synth.PAUSE_SECONDS * synth.SAMPLE_RATE), dtype=np.float32)
    for turn in turns:
        if words >= budget:
            break
        name = speaker_name(turn["speaker"])
        if name not in speakers:
            speakers.append(name)
        pieces += [synth.speak(synth.clean(turn["content"]), VOICES[speakers.index(name) % len(VOICES)]), pause]
        words += len(turn["content"].split())
    cache.mkdir(parents=True, exist_ok=True)
    synth.encode_mp3(np.concatenate(pieces), audio)
    meta.write_text(json.dumps(speakers))
    return audio, speakers


def publish(server: LocalServer, episodes: list[tuple[Path, list[str]]]) -> str:
    items = []
    for n, (audio, speakers) in enumerate(episodes):
        persons = "".join(f'<podcast:person role="guest">{name}</podcast:person>' for name in speakers[:8])
        url = server.add(f"ep{n}.mp3", audio.read_bytes())
        items.append(item(f"Debate {n + 1}", f"bench-{n}", audio_url=url, extra=persons,
                          published=f"Mon, {n + 1:02d} Jan 2025 06:00:00 GMT"))
    return server.add("feed.xml", rss("Benchmark Debates", items))


def timed(times: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.monotonic() - started
    return call


def run_podbrief(feed_url: str, episodes: int) -> tuple[dict[str, float], dict[str, Any], Paths]:
    paths = Paths(Path(tempfile.mkdtemp(prefix="podbrief-bench-")))
    config = configmod.load(None, flags={"network.allow_private": True, "fetch.backfill": episodes})
    subscriptions.subscribe(paths, config, feed_url)
    times: dict[str, float] = {}
    default = today.Pipeline()
    pipeline = today.Pipeline(timed(times, "transcribe", default.transcribe),
                              timed(times, "extract", default.extract), timed(times, "rank", default.rank))
    reporter = TerminalReporter(Console(stderr=True))
    now = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    brief = today.run(paths, config, reporter, today.window(now, 1), now=now, pipeline=pipeline)
    times["total"] = time.monotonic() - started
    times["fetch + bookkeeping"] = times["total"] - sum(times.get(k, 0.0) for k in ("transcribe", "extract", "rank"))
    return times, brief, paths


def rerun(paths: Paths) -> tuple[float, float]:
    """Seconds for a rerun with nothing new: in process, and as a CLI subprocess."""
    config = configmod.load(None, flags={"network.allow_private": True})
    started = time.monotonic()
    try:
        today.run(paths, config, TerminalReporter(Console(stderr=True, quiet=True)), today.window(dt.datetime.now(dt.timezone.utc), 1))
        raise SystemExit("the rerun found something new")
    except NothingNew:
        in_process = time.monotonic() - started
    (paths.home / "config.yaml").write_text("network:\n  allow_private: true\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "podbrief", "-q", "today"], env={**os.environ, "PODBRIEF_HOME": str(paths.home)})
    cli = time.monotonic() - started
    if done.returncode != 9:
        raise SystemExit(f"the CLI rerun exited {done.returncode}, expected 9 (nothing new)")
    return in_process, cli


def run_naive(audios: list[Path], paths: Paths) -> dict[str, float]:
    from faster_whisper import WhisperModel
    from llama_cpp import Llama

    config = configmod.defaults()
    times = {"transcribe": 0.0, "extract": 0.0}
    started = time.monotonic()
    whisper = WhisperModel(str(model_registry.resolve("whisper", config["transcribe"]["model"], paths).path))
    transcripts = []
    for audio in audios:
        segments, _ = whisper.transcribe(str(audio))  # faster-whisper defaults: beam 5, no VAD, sequential
        transcripts.append(" ".join(segment.text.strip() for segment in segments))
    times["transcribe"] = time.monotonic() - started
    started = time.monotonic()
    gguf = str(model_registry.resolve("llm", config["llm"]["model"], paths).path)
    for transcript in transcripts:
        prompt = NAIVE_PROMPT + transcript
        probe = Llama(gguf, vocab_only=True, verbose=False)
        tokens = len(probe.tokenize(prompt.encode()))
        llm = Llama(gguf, n_ctx=tokens + 1024, verbose=False)  # a context big enough for the whole transcript
        llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=1000)
    times["extract"] = time.monotonic() - started
    times["total"] = times["transcribe"] + times["extract"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=15, help="length of each synthetic episode")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "podbrief-bench-audio")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()

    episodes = [synthesise(SOURCES[n % len(SOURCES)], args.minutes, args.cache) for n in range(args.episodes)]
    hours = sum(float(_duration(audio)) for audio, _ in episodes) / 3600
    server = LocalServer(Path(tempfile.mkdtemp(prefix="podbrief-bench-www-"))).start()
    try:
        ours, brief, paths = run_podbrief(publish(server, episodes), args.episodes)
        in_process, cli = rerun(paths)
    finally:
        server.stop()
    naive = {} if args.no_naive else run_naive([audio for audio, _ in episodes], paths)

    print(f"\n{args.episodes} synthetic episode(s), {hours * 60:.1f} min of audio in all; "
          f"brief: {len(brief['items'])} items, {sum(len(i['related']) for i in brief['items'])} related, "
          f"{len(brief['problems'])} problems")
    print(f"{'stage':<22}{'podbrief s':>10}{'s/audio h':>11}{'10 x 1 h, min':>15}"
          + ("" if not naive else f"{'naive s':>10}{'s/audio h':>11}{'10 x 1 h, min':>15}"))
    for stage in ("fetch + bookkeeping", "transcribe", "extract", "rank", "total"):
        row = f"{stage:<22}" + _cells(ours.get(stage, 0.0), hours)
        if naive:
            row += _cells(naive[stage], hours) if stage in naive else f"{'-':>10}{'-':>11}{'-':>15}"
        print(row)
    print(f"rerun with nothing new: {in_process:.2f} s in process, {cli:.2f} s as `podbrief -q today`")


def _cells(seconds: float, hours: float) -> str:
    per_hour = seconds / hours
    return f"{seconds:>10.1f}{per_hour:>11.0f}{per_hour * 10 / 60:>15.1f}"


def _duration(audio: Path) -> float:
    import av

    with av.open(str(audio)) as container:
        return container.duration / 1_000_000


if __name__ == "__main__":
    main()
