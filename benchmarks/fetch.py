"""Benchmark the fetch stage: 10 feeds on a local server, first fetch vs. a rerun with nothing new.

    .venv/bin/python benchmarks/fetch.py [--feeds 10] [--episodes 3] [--audio-kb 1000] [--repeat 5]

Baseline (measured in the same run): plain sequential httpx GETs of the same feed files,
the least any poller has to do. A rerun with nothing new must make only conditional
requests (checked here from the server's request log) and finish well under a second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
import yaml
from rich.console import Console

from podbrief import config as configmod
from podbrief import subscriptions
from podbrief.formats.opml import Outline
from podbrief.stages import fetch
from podbrief.store import Paths
from podbrief.terminal import TerminalReporter
from tests.support.localserver import LocalServer, item, rss


def publish(server: LocalServer, feeds: int, episodes: int, audio_bytes: int) -> list[str]:
    urls = []
    for feed in range(feeds):
        items = [item(f"Episode {n}", f"f{feed}-e{n}", length=audio_bytes,
                      audio_url=server.add(f"f{feed}/e{n}.mp3", os.urandom(audio_bytes)),
                      published=f"Mon, {n + 1:02d} Jan 2025 06:00:00 GMT") for n in range(episodes)]
        urls.append(server.add(f"f{feed}/feed.xml", rss(f"Show {feed}", items)))
    return urls


def new_home(base: Path, urls: list[str], concurrency: int) -> tuple[Paths, configmod.Config]:
    """A fresh podbrief home subscribed to `urls`."""
    home = Path(tempfile.mkdtemp(prefix="home-", dir=base))
    settings = {"network": {"allow_private": True, "concurrency": concurrency}, "fetch": {"backfill": 100}}
    (home / "config.yaml").write_text(yaml.safe_dump(settings))
    paths = Paths(home)
    config = configmod.load(home / "config.yaml")
    subscriptions.import_outlines(paths, [Outline(url, None) for url in urls])
    return paths, config


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `action` in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--audio-kb", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    quiet = TerminalReporter(Console(quiet=True))

    with tempfile.TemporaryDirectory() as www:
        server = LocalServer(Path(www) / "www").start()
        try:
            urls = publish(server, args.feeds, args.episodes, args.audio_kb * 1000)
            rows: list[tuple[str, float, str]] = []

            with httpx.Client() as client:
                baseline = timed(lambda: [client.get(url).content for url in urls], args.repeat)
            rows.append((f"baseline: {args.feeds} plain GETs of the feeds, sequential", baseline, ""))

            def first_fetch() -> None:
                paths, config = new_home(Path(www), urls, 4)
                report = fetch.run_pending(paths, config, quiet)
                assert len(report.done) == args.feeds * args.episodes, report.to_json()

            first = timed(first_fetch, max(1, args.repeat // 2))
            megabytes = args.feeds * args.episodes * args.audio_kb / 1000
            name = f"first fetch: {args.feeds} feeds, {args.feeds * args.episodes} episodes ({megabytes:g} MB)"
            rows.append((name, first, ""))

            for concurrency in (4, 1):
                paths, config = new_home(Path(www), urls, concurrency)
                fetch.run_pending(paths, config, quiet)
                server.clear_log()
                rerun = timed(lambda paths=paths, config=config: fetch.run_pending(paths, config, quiet), args.repeat)
                requests = server.requests
                conditional = all("if-none-match" in r.headers for r in requests)
                audio = sum(r.path.endswith(".mp3") for r in requests)
                notes = (f"{len(requests) // args.repeat} requests/run, all conditional: {conditional}, "
                         f"audio requests: {audio}")
                rows.append((f"rerun, nothing new, in-process (concurrency {concurrency})", rerun, notes))

            paths, config = new_home(Path(www), urls, 4)
            fetch.run_pending(paths, config, quiet)
            command = [sys.executable, "-m", "podbrief", "--quiet", "fetch"]
            env = {**os.environ, "PODBRIEF_HOME": str(paths.home)}
            cli = timed(lambda: subprocess.run(command, env=env, check=True), args.repeat)
            rows.append(("rerun, nothing new, `podbrief fetch` process (incl. Python start-up)", cli, ""))
        finally:
            server.stop()

    width = max(len(row[0]) for row in rows)
    print(f"{'case':<{width}}  {'median s':>9}  {'x baseline':>10}  notes")
    for name, seconds, notes in rows:
        print(f"{name:<{width}}  {seconds:>9.3f}  {seconds / baseline:>10.1f}  {notes}")


if __name__ == "__main__":
    main()
