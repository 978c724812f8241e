"""One episode on all cores: its speech windows split across the workers and stitched back in order.

Real faster-whisper, the bundled tiny.en, a real 2-minute recording and the two-speaker telephone
call (tests/fixtures/LICENSES.md).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.recorder import Recorder
from support.speech import SPEECH
from test_transcribe import add_episode, transcript, write_audio

from podbrief import config as configmod
from podbrief import voiceprints
from podbrief.engines.whisper import Window, load_audio, split_windows
from podbrief.stages import transcribe as stage
from podbrief.store import Index, Paths

TWO_MINUTES = SPEECH / "two-minutes.mp3"


@pytest.mark.parametrize(("count", "parts"), [(0, 2), (1, 2), (2, 2), (5, 2), (47, 2), (7, 3), (3, 8)])
def test_split_windows_keeps_every_window_once_in_order_and_balanced(count: int, parts: int) -> None:
    windows = [Window(30.0 * i, 30.0 * i + 29.5) for i in range(count)]
    runs = split_windows(windows, parts)
    assert [w for run in runs for w in run] == windows
    assert len(runs) == min(parts, count) and all(runs)
    sizes = [len(run) for run in runs]
    assert sizes == sorted(sizes, reverse=True) and (not sizes or sizes[0] - sizes[-1] <= 1)


@pytest.mark.parametrize(("count", "parts", "sizes"), [(5, 2, [5]), (8, 2, [8]), (10, 2, [8, 2]), (47, 2, [24, 23]),
                                                       (47, 3, [16, 16, 15]), (15, 2, [8, 7])])
def test_runs_start_on_decoding_group_boundaries(count: int, parts: int, sizes: list[int]) -> None:
    # with groups of 8 windows (a batch): every run but the last is whole groups, so it is decoded in the
    # same batches as the whole list, and a split episode gets one worker's words exactly
    windows = [Window(30.0 * i, 30.0 * i + 29.5) for i in range(count)]
    runs = split_windows(windows, parts, 8)
    assert [w for run in runs for w in run] == windows and [len(run) for run in runs] == sizes
    assert all(len(run) % 8 == 0 for run in runs[:-1])


def test_one_episode_split_across_two_workers_has_the_words_of_one_worker(home: Path, caplog) -> None:
    episode = add_episode(home, "two minutes", audio=TWO_MINUTES)
    caplog.set_level(logging.DEBUG, logger="podbrief")
    results = {}
    for workers in (1, 2):
        with Index(Paths(home)) as index:
            index.reset_stage(episode, "transcribe")
        config = configmod.load(None, flags={"transcribe.workers": workers, "transcribe.split_episodes": True})
        assert stage.run_pending(Paths(home), config, Recorder()).done == [episode]
        results[workers] = transcript(home, episode)["segments"]
    assert re.search(r"split into 2 parts of 8\+\d+ windows", caplog.text)
    assert len(" ".join(s["text"] for s in results[1]).split()) > 250
    assert results[2] == results[1]  # the same words, times and speakers: the parts are decoded in the same batches
    times = [t for s in results[2] for t in (s["start"], s["end"])]
    assert times == sorted(times) and times[-1] <= 126.3


def test_a_split_diarized_episode_has_the_speakers_and_turns_of_one_worker(home: Path, tmp_path: Path,
                                                                           caplog) -> None:
    # speakers are found once over the whole episode, before the split: a part never labels its own voices
    call = load_audio(SPEECH / "conversation.mp3")  # four times over: enough turns for two decoding groups
    episode = add_episode(home, "call", audio=write_audio(tmp_path / "call.flac", [call] * 4))
    caplog.set_level(logging.DEBUG, logger="podbrief")
    docs = {}
    for workers in (1, 2):
        shutil.rmtree(voiceprints.store_dir(Paths(home)), ignore_errors=True)  # each run names from scratch
        with Index(Paths(home)) as index:
            index.reset_stage(episode, "transcribe")
        config = configmod.load(None, flags={"transcribe.workers": workers, "transcribe.split_episodes": True})
        assert stage.run_pending(Paths(home), config, Recorder()).done == [episode]
        docs[workers] = transcript(home, episode)
    assert re.search(r"split into 2 parts of \d+\+\d+ windows", caplog.text)
    one, split = ([(s["start"], s["end"], s["speaker"], s["label"]) for s in docs[w]["segments"]] for w in (1, 2))
    assert split == one
    assert {label for _, _, _, label in split} == {"SPEAKER_00", "SPEAKER_01"}  # the call's two voices
    assert docs[2]["model"]["speakers"] == "mfcc" and docs[2]["voices"] == docs[1]["voices"]
    assert docs[2]["segments"] == docs[1]["segments"]


def test_a_killed_split_run_leaves_nothing_that_looks_complete(home: Path) -> None:
    episode = add_episode(home, "two minutes", audio=TWO_MINUTES)
    process = subprocess.Popen([sys.executable, "-m", "podbrief", "--debug", "transcribe", "--workers", "2"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
                               env={**os.environ, "PODBRIEF_TRANSCRIBE_SPLIT_EPISODES": "true"})
    watchdog = threading.Timer(240, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:  # kill the run (and its workers) as soon as the first of the two parts is back
        seen = None
        for line in process.stderr:  # type: ignore[union-attr]
            if re.search(r"part \d/2 done", line):
                seen = line
                os.killpg(process.pid, signal.SIGKILL)
                break
        process.wait()
    finally:
        watchdog.cancel()
    assert seen, "the split run never reported a finished part"
    directory = Paths(home).episode_dir(episode)
    assert sorted(p.name for p in directory.iterdir()) == ["audio.mp3", "episode.json"]
    with Index(Paths(home)) as index:
        assert [row["id"] for row in index.pending("transcribe")] == [episode]
    config = configmod.load(None, flags={"transcribe.workers": 2, "transcribe.split_episodes": True})
    assert stage.run_pending(Paths(home), config, Recorder()).done == [episode]
    assert transcript(home, episode)["segments"]
