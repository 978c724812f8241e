"""A real `python -m podbrief fetch` process killed with SIGKILL mid-download, then a rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from support.localserver import item, rss
from typer.testing import CliRunner

from podbrief.cli import app
from podbrief.errors import ExitStatus

runner = CliRunner()


def wait_for_partial(home, minimum: int, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for partial in home.glob("episodes/*/audio.mp3.partial"):
            if partial.stat().st_size >= minimum:
                return partial
        time.sleep(0.05)
    raise AssertionError("the download never started")


def test_kill_9_during_a_download_then_rerun_resumes_with_range(server, home):
    audio = os.urandom(600_000)
    audio_url = server.add("ep.mp3", audio)
    feed_url = server.add("feed.xml", rss("show", [item("episode", "g1", audio_url=audio_url, length=len(audio))]))
    assert runner.invoke(app, ["add", feed_url]).exit_code == 0
    server.route("ep.mp3", rate=100_000)  # about six seconds for the whole file

    process = subprocess.Popen([sys.executable, "-m", "podbrief", "fetch"],
                               env={**os.environ, "PODBRIEF_HOME": str(home)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial = wait_for_partial(home, 50_000)
        second = runner.invoke(app, ["fetch"])  # while the first run holds the lock
        assert second.exit_code == ExitStatus.LOCKED
        assert "another podbrief run is in progress" in second.stderr
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    done_before_kill = partial.stat().st_size
    assert 0 < done_before_kill < len(audio)
    assert not (partial.parent / "audio.mp3").exists()

    server.unroute("ep.mp3")
    server.clear_log()
    rerun = runner.invoke(app, ["fetch"])
    assert rerun.exit_code == 0, rerun.stderr
    assert [request.headers.get("range") for request in server.requests_to("ep.mp3")] == [f"bytes={done_before_kill}-"]
    assert (partial.parent / "audio.mp3").read_bytes() == audio
    assert not partial.exists()
