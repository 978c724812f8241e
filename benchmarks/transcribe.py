"""Transcription speed and accuracy: podbrief's settings against faster-whisper's defaults.

    .venv/bin/python benchmarks/transcribe.py [--speech DIR] [--cache DIR] [--skip-long]

Sets:
  clips  the English speech clips in ../shared/data/speech with their reference transcripts
         (LibriVox, LibriSpeech, MFA, Common Voice, a telephone call; about 2 minutes)
  long   a 21-minute, 7-voice committee debate (QMSum education_0, synthesised with espeak-ng,
         0.6 s between turns), built once into --cache; needs `apt-get install espeak-ng`

Rows: the baseline is faster-whisper with its defaults and the same model (tiny.en: beam 5,
no batching, default threads and compute type), measured in the same run; then podbrief's
engine with its default settings and with variants on the clips; then the stage itself
(worker processes and model load included) on one and two copies of the long file, on 1
and 2 workers: one episode on one worker, on one worker with two threads, and split across
two workers. The real-time factor counts decoding the audio file and everything after it;
WER uses tests/support/speech.py's normalisation. The split-boundary check compares the split run's
words with the one-worker run's (words lost, doubled or changed at the split). Speed varies
with the machine's load: read the ratios to the baseline, and record `uptime` beside the
table. Run it on a quiet machine: `flock /tmp/podbrief-bench.lock ...`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import jiwer
import numpy as np
from faster_whisper import WhisperModel
from rich.console import Console

from podbrief.terminal import TerminalReporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from podbrief import config as configmod
from podbrief import model_registry
from podbrief.engines.whisper import SAMPLE_RATE, Settings, WhisperEngine, load_audio
from podbrief.formats.documents import TRANSCRIPT
from podbrief.stages import transcribe as stage
from podbrief.store import Index, Paths, short_hash, utcnow
from tests.support.speech import normalise, wer  # the WER the tests use too

VOICES = ["en-us+m3", "en-gb+f3", "en-gb-scotland+m1", "en-us+f2", "en-gb-x-rp+m5", "en-029+f4"]
LONG_SECONDS = 21 * 60
VARIANTS = {"beam 1": {"beam_size": 1}, "beam 2": {"beam_size": 2}, "beam 3": {"beam_size": 3},
            "float32": {"compute_type": "float32"}}  # each against the default (skipped where it is the default)
# The stage on the long file: (label, copies of the episode, config flags); the first is the split check's reference.
STAGE_RUNS = [
    ("1 episode, 1 worker, beam 1", 1, {"transcribe.workers": 1, "transcribe.beam_size": 1}),
    ("1 episode, 1 worker, 2 threads, beam 1", 1,
     {"transcribe.workers": 1, "transcribe.threads": 2, "transcribe.beam_size": 1}),
    ("1 episode split across 2 workers, beam 1", 1,
     {"transcribe.workers": 2, "transcribe.split_episodes": True, "transcribe.beam_size": 1}),
    ("1 episode split across 2 workers, beam 3", 1,
     {"transcribe.workers": 2, "transcribe.split_episodes": True, "transcribe.beam_size": 3}),
    ("2 episodes, 1 worker, beam 1", 2, {"transcribe.workers": 1, "transcribe.beam_size": 1}),
    ("2 episodes, 2 workers, beam 1", 2, {"transcribe.workers": 2, "transcribe.beam_size": 1}),
    ("2 episodes, 2 workers, beam 3", 2, {"transcribe.workers": 2, "transcribe.beam_size": 3}),
]
SPLIT_CHECK = STAGE_RUNS[2][0]


def clips(speech: Path) -> list[tuple[Path, str]]:
    """(audio file, reference) for every English clip with a reference transcript."""
    found = []
    for line in (speech / "librivox" / "transcription").read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line)
        if match:
            found.append((speech / "librivox" / f"{match[2]}.wav", match[1]))
    for lab in sorted((speech / "mfa").glob("*.lab")):
        audio = next((p for p in lab.parent.glob(lab.stem + ".*") if p.suffix in (".wav", ".flac", ".mp3")), None)
        if audio:  # the .opus clip is Spanish; tiny.en is English-only
            found.append((audio, lab.read_text()))
    stm = (speech / "conversation" / "sample.stm").read_text().splitlines()
    found.append((speech / "conversation" / "sample.wav", " ".join(line.split(None, 5)[5] for line in stm)))
    return found


def long_file(cache: Path) -> tuple[Path, str] | None:
    """The synthetic long episode (MP3) and its reference, built once."""
    audio, reference = cache / "long.mp3", cache / "long.txt"
    if audio.exists() and reference.exists():
        return audio, reference.read_text()
    if not shutil.which("espeak-ng"):
        print("espeak-ng not found (apt-get install espeak-ng): skipping the long file", file=sys.stderr)
        return None
    turns = json.loads((ROOT.parent / "shared/data/qmsum/val/education_0.json").read_text())["meeting_transcripts"]
    voices: dict[str, str] = {}
    rate, pieces, spoken, seconds = 22050, [], [], 0.0
    for turn in turns:
        text = turn["content"]
        if re.search(r"[\d\[\]]", text):  # numbers and [Inaudible] have no single spoken form
            continue
        voice = voices.setdefault(turn["speaker"], VOICES[len(voices) % len(VOICES)])
        wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "--stdout", text],
                             check=True, capture_output=True).stdout
        with av.open(io.BytesIO(wav)) as container:
            samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
        pieces += [samples, np.zeros(int(rate * 0.6), np.int16)]
        spoken.append(text)
        seconds += samples.size / rate + 0.6
        if seconds > LONG_SECONDS:
            break
    cache.mkdir(parents=True, exist_ok=True)
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout, stream.bit_rate = "mono", 64000
        frame = av.AudioFrame.from_ndarray(np.concatenate(pieces).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    reference.write_text("\n".join(spoken))
    return audio, "\n".join(spoken)


def run_baseline(model_dir: Path, files: list[Path]) -> tuple[list[str], float]:
    model = WhisperModel(str(model_dir))
    started = time.perf_counter()
    texts = [" ".join(s.text for s in model.transcribe(str(path))[0]) for path in files]
    return texts, time.perf_counter() - started


def run_engine(model_dir: Path, settings: Settings, files: list[Path]) -> tuple[list[str], float]:
    engine = WhisperEngine(model_dir, settings)
    started = time.perf_counter()
    texts = [" ".join(s.text for s in engine.transcribe(load_audio(path))[0]) for path in files]
    return texts, time.perf_counter() - started


def run_stage(audio: Path, copies: int, flags: dict[str, object]) -> tuple[list[str], float]:
    """(texts, wall time) of `run_pending` over `copies` episodes of `audio` (spawn and model load included)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(Path(tmp))
        with Index(paths) as index:
            for number in range(copies):
                episode_id = short_hash("bench", str(number))
                directory = paths.episode_dir(episode_id)
                directory.mkdir(parents=True)
                shutil.copy(audio, directory / "audio.mp3")
                meta = {"id": episode_id, "feed_id": "0" * 16, "title": f"copy {number}", "audio_file": "audio.mp3",
                        "discovered_at": utcnow(), "transcripts": []}
                (directory / "episode.json").write_text(json.dumps(meta))
                index.upsert_episode(meta)
                index.mark_done(episode_id, "fetch")
        config = configmod.load(None, flags={"transcribe.device": "cpu", **flags})
        started = time.perf_counter()
        report = stage.run_pending(paths, config, TerminalReporter(Console(quiet=True)))
        elapsed = time.perf_counter() - started
        assert len(report.done) == copies, report.failed
        texts = [" ".join(s["text"] for s in json.loads(paths.episode_file(e, TRANSCRIPT).read_text())
                          ["segments"]) for e in report.done]
        return texts, elapsed


def split_check(one: str, split: str) -> str:
    """How the split run's words differ from the one-worker run's."""
    out = jiwer.process_words(normalise(one), normalise(split))
    return (f"{out.deletions} words lost, {out.insertions} added, {out.substitutions} changed "
            f"of {len(normalise(one).split())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech", type=Path, default=ROOT.parent / "shared" / "data" / "speech")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "podbrief-bench")
    parser.add_argument("--skip-long", action="store_true", help="Only the clips (fast).")
    args = parser.parse_args()

    model = model_registry.resolve("whisper", "tiny.en", Paths(args.cache / "home"))
    default = stage.settings(configmod.defaults(), "cpu")
    sets = {"clips": clips(args.speech)}
    long = None if args.skip_long else long_file(args.cache)
    if long:
        sets["long"] = [long]
    durations = {name: sum(load_audio(path).size for path, _ in items) / SAMPLE_RATE for name, items in sets.items()}

    rows = []
    for name, items in sets.items():
        files, references = [p for p, _ in items], [r for _, r in items]
        runs = {"baseline (faster-whisper defaults)": lambda files=files: run_baseline(model.path, files)}
        if name == "clips":  # the long file runs through the stage below
            runs[f"podbrief default {default.to_json()}"] = lambda files=files: run_engine(model.path, default, files)
            for label, change in VARIANTS.items():
                settings = Settings(**{**default.to_json(), **change})
                if settings != default:
                    runs[f"podbrief {label}"] = lambda settings=settings, files=files: run_engine(
                        model.path, settings, files)
        base = None
        for label, run in runs.items():
            texts, seconds = run()
            rtf, error = durations[name] / seconds, wer(references, texts)
            base = base or (rtf, error)
            rows.append((name, label, durations[name], seconds, rtf, error, rtf / base[0], error - base[1]))
            print(f"  {name}: {label}: {rtf:.1f}x, WER {error:.2f}%", file=sys.stderr, flush=True)
    if long:
        base = next(row for row in rows if row[0] == "long")
        one_worker, checks = "", []
        for label, copies, flags in STAGE_RUNS:
            texts, seconds = run_stage(long[0], copies, flags)
            audio_s = copies * durations["long"]
            error = wer([long[1]] * copies, texts)
            one_worker = one_worker or texts[0]
            rows.append((f"long x{copies}", f"stage: {label}", audio_s, seconds, audio_s / seconds, error,
                         audio_s / seconds / base[4], error - base[5]))
            if label == SPLIT_CHECK:
                checks.append(f"split check ({label} vs {STAGE_RUNS[0][0]}): {split_check(one_worker, texts[0])}")
            print(f"  {label}: {audio_s / seconds:.1f}x, WER {error:.2f}%", file=sys.stderr, flush=True)

    print(f"\nmodel tiny.en; x real time = audio seconds / wall seconds; load: {os.getloadavg()}\n")
    print("| set | run | audio s | wall s | x real time | WER % | speed vs baseline | WER vs baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label, audio_s, wall, rtf, error, speed, delta in rows:
        print(f"| {name} | {label} | {audio_s:.0f} | {wall:.1f} | {rtf:.1f} | "
              f"{'' if error is None else f'{error:.2f}'} | {'' if speed is None else f'{speed:.2f}x'} | "
              f"{'' if delta is None else f'{delta:+.2f}'} |")
    print("\n".join(["", *checks]))


if __name__ == "__main__":
    main()
