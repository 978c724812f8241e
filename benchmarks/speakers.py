"""Who spoke when, and their names: DER and cost of the transcribe stage's diarization.

    .venv/bin/python benchmarks/speakers.py [--data ../shared/data] [--cache DIR] [--models mfcc,voice-encoder]

Sets:
  sample       ../shared/data/speech/conversation/sample.wav: 30 s telephone call, 2 speakers, sample.rttm
  example      ../shared/data/speech/diarization/diarizationExample.wav: 42 s, 4 speakers, .segments
  synthetic    a 20-minute debate (QMSum education_0, its 4 most talkative speakers, one espeak-ng
               voice each, 0.6 s between turns), turns known, built once into --cache

Per set and speaker model: DER (tests/speech.py: no collar, overlap scored) with the VAD the stage
uses, the speakers found, and the cost: seconds of diarization per audio hour next to the
seconds of transcription (tiny.en, the stage's default settings) in the same run. "names"
is the share of the synthetic episode's speech that `name_speakers` attributes to the
right person (feed lists the speakers) and the share given a wrong name (feed names none).
Run it on a quiet machine: `flock /tmp/podbrief-bench.lock ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from make_demo_audio import encode_mp3, speak  # the demo's espeak-ng voices
from speech import der  # tests/speech.py: the DER the tests use too

from podbrief import config as configmod
from podbrief import models
from podbrief.engines import diarize
from podbrief.engines.whisper import SAMPLE_RATE, WhisperEngine, load_audio, speech_regions
from podbrief.extraction.passages import Segment
from podbrief.extraction.speakers import name_speakers
from podbrief.stages import transcribe as stage
from podbrief.store import Paths

VOICES = ["en-us+m3", "en-gb+f3", "en-gb-scotland+m1", "en-us+f2"]
SYNTHETIC_SECONDS = 20 * 60
PAUSE = 0.6


def reference(path: Path) -> list[tuple[str, float, float]]:
    """(speaker, start, end) from an RTTM file or a "start end speaker" segments file."""
    turns = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            turns.append((parts[7], float(parts[3]), float(parts[3]) + float(parts[4])))
        elif parts:
            turns.append((parts[2], float(parts[0]), float(parts[1])))
    return turns


def synthetic(data: Path, cache: Path) -> tuple[Path, list[tuple[str, float, float]], list[str]]:
    """The synthetic debate (MP3), its turns and its speakers' names, built once."""
    audio, turns_file = cache / "speakers.mp3", cache / "speakers.json"
    if not audio.exists() or not turns_file.exists():
        meeting = json.loads((data / "qmsum/val/education_0.json").read_text())["meeting_transcripts"]
        talkers = [name for name, _ in Counter(t["speaker"] for t in meeting).most_common(len(VOICES))]
        pieces, turns, at = [], [], 0.0
        for turn in meeting:
            if turn["speaker"] not in talkers or any(c.isdigit() for c in turn["content"]):
                continue
            samples = speak(turn["content"], VOICES[talkers.index(turn["speaker"])])
            turns.append((turn["speaker"], round(at, 3), round(at + samples.size / SAMPLE_RATE, 3)))
            pieces += [samples, np.zeros(int(PAUSE * SAMPLE_RATE), np.float32)]
            at += samples.size / SAMPLE_RATE + PAUSE
            if at > SYNTHETIC_SECONDS:
                break
        cache.mkdir(parents=True, exist_ok=True)
        encode_mp3(np.concatenate(pieces), audio)
        turns_file.write_text(json.dumps({"turns": turns, "speakers": talkers}))
    data_ = json.loads(turns_file.read_text())
    return audio, [tuple(t) for t in data_["turns"]], data_["speakers"]


def hypothesis(audio: np.ndarray, embedder: diarize.Embedder) -> tuple[list[tuple[str, float, float]], float]:
    """The stage's diarization of `audio` and its seconds (VAD included)."""
    started = time.perf_counter()
    regions = speech_regions(audio, True)
    turns = diarize.diarize(audio, [(r.start, r.end) for r in regions], embedder)
    return [(t.speaker, t.start, t.end) for t in turns], time.perf_counter() - started


def name_shares(hyp: list[tuple[str, float, float]], ref: list[tuple[str, float, float]],
                speakers: list[str]) -> tuple[float, float]:
    """(share of speech named right when the feed lists everyone, share named wrong when it lists no one)."""
    segments = [Segment(start, end, "", label) for label, start, end in hyp]
    listed = {"persons": [{"name": s, "role": "host" if n == 0 else "guest"} for n, s in enumerate(speakers)]}
    right = wrong = total = 0.0
    named, unnamed = name_speakers(segments, listed), name_speakers(segments, {})
    for label, start, end in hyp:
        truth = max(ref, key=lambda r: min(end, r[2]) - max(start, r[1]))[0]
        total += end - start
        right += (end - start) * (named[label] == truth)
        wrong += (end - start) * (unnamed[label] in speakers and unnamed[label] != truth)
    return right / total, wrong / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/podbrief-bench"))
    parser.add_argument("--models", default="mfcc,voice-encoder")
    args = parser.parse_args()
    speech = args.data / "speech"
    sets = [("sample", speech / "conversation/sample.wav", reference(speech / "conversation/sample.rttm"), []),
            ("example", speech / "diarization/diarizationExample.wav",
             reference(speech / "diarization/diarizationExample.segments"), []),
            ("synthetic", *synthetic(args.data, args.cache))]
    config = configmod.load(None)
    model = models.resolve("whisper", config["transcribe"]["model"], Paths(args.cache / "home"))
    engine = WhisperEngine(model.path, stage.settings(config))
    print("| set | speaker model | minutes | DER % | speakers (true) | diarize s/audio h | transcribe s/audio h"
          " | added | names right % | wrong names % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, path, ref, speakers in sets:
        audio = load_audio(path)
        hours = audio.size / SAMPLE_RATE / 3600
        started = time.perf_counter()
        engine.transcribe(audio)
        transcribe_cost = (time.perf_counter() - started) / hours
        for model_name in args.models.split(","):
            embedder = diarize.embedder(model_name)
            hyp, seconds = hypothesis(audio, embedder)
            names = "| |" if not speakers else "| {:.0f} | {:.0f} |".format(*(100 * s for s in name_shares(hyp, ref, speakers)))
            print(f"| {name} | {model_name} | {audio.size / SAMPLE_RATE / 60:.1f} | {100 * der(ref, hyp):.1f} "
                  f"| {len({h[0] for h in hyp})} ({len({r[0] for r in ref})}) | {seconds / hours:.0f} "
                  f"| {transcribe_cost:.0f} | {100 * seconds / hours / transcribe_cost:.0f}% {names}", flush=True)


if __name__ == "__main__":
    main()
