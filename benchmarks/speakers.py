"""Who spoke when, and their names: DER and cost of the transcribe stage's diarization.

    .venv/bin/python benchmarks/speakers.py [--data ../shared/data] [--cache DIR] [--models mfcc,voice-encoder]

Sets:
  sample       ../shared/data/speech/conversation/sample.wav: 30 s telephone call, 2 speakers, sample.rttm
  example      ../shared/data/speech/diarization/diarizationExample.wav: 42 s, 4 speakers, .segments
  synthetic    a 20-minute debate (QMSum education_0, its 4 most talkative speakers, one espeak-ng
               voice each, 0.6 s between turns), turns known, built once into --cache

Per set and speaker model: DER (tests/support/speech.py: no collar, overlap scored) with the VAD the stage
uses, the speakers found, and the cost: seconds of diarization (VAD excluded: transcription runs
it anyway) per audio hour next to the seconds of transcription (tiny.en, the stage's default
settings) in the same run. Then a 10-minute two-voice dialogue, transcribed with diarization,
three ways: the feed lists host and guest; only speech names them (the host opens each turn
after the guest's with "Thank you, <first name>."); nothing names them. "names right" is the
share of its speech that `name_speakers` gives the right person, "wrong names" the share given
another person's name.
Run it on a quiet machine: `flock /tmp/podbrief-bench.lock ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
from make_demo_audio import encode_mp3, speak  # the demo's espeak-ng voices

from podbrief import config as configmod
from podbrief import model_registry, voiceprints
from podbrief.engines import diarize
from podbrief.engines.whisper import SAMPLE_RATE, WhisperEngine, load_audio, speech_regions
from podbrief.extraction.speakers import name_speakers
from podbrief.formats.transcripts import Segment
from podbrief.stages import transcribe as stage
from podbrief.store import Paths
from podbrief.transcription.job import diarized_windows
from tests.support.speech import der  # the DER the tests use too

# Four espeak-ng voices that sound different to both embedders. Several variants do not:
# en-gb+f3, en-gb+f5 and en-gb-scotland+m1 measure as one voice with en-us+m3.
VOICES = ["en-us+m3", "en-us+f2", "en-us+m7", "en-029+f4"]
SYNTHETIC_SECONDS = 20 * 60
DIALOGUE_SECONDS = 10 * 60
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


def synthetic(data: Path, cache: Path, voices: int, seconds: float, thanks: bool, first_turn: int = 0,
              ) -> tuple[Path, list[tuple[str, float, float]], list[str]]:
    """A debate from QMSum education_0 voiced by its `voices` most talkative speakers (MP3), its
    turns and its speakers in order of first turn, built once. With `thanks`, the first speaker
    opens each turn after another's with "Thank you, <first name>." (names said only in speech).
    `first_turn` skips that many of the speakers' turns (another part of the same debate)."""
    stem = f"speakers-{voices}{'-thanks' if thanks else ''}-{first_turn}"
    audio, turns_file = cache / f"{stem}.mp3", cache / f"{stem}.json"
    if not audio.exists() or not turns_file.exists():
        meeting = json.loads((data / "qmsum/val/education_0.json").read_text())["meeting_transcripts"]
        talkers = [name for name, _ in Counter(t["speaker"] for t in meeting).most_common(voices)]
        kept = [t for t in meeting if t["speaker"] in talkers and not any(c.isdigit() for c in t["content"])]
        order = list(dict.fromkeys(t["speaker"] for t in kept))  # voices by first turn in the whole debate
        kept = kept[first_turn:]
        pieces, turns, at = [], [], 0.0
        for previous, turn in zip([None, *kept], kept):
            text = turn["content"]
            if thanks and turn["speaker"] == order[0] and previous and previous["speaker"] != order[0]:
                text = f"Thank you, {previous['speaker'].split()[0]}. {text}"
            samples = speak(text, VOICES[order.index(turn["speaker"])])
            turns.append((turn["speaker"], round(at, 3), round(at + samples.size / SAMPLE_RATE, 3)))
            pieces += [samples, np.zeros(int(PAUSE * SAMPLE_RATE), np.float32)]
            at += samples.size / SAMPLE_RATE + PAUSE
            if at > seconds:
                break
        cache.mkdir(parents=True, exist_ok=True)
        encode_mp3(np.concatenate(pieces), audio)
        turns_file.write_text(json.dumps({"turns": turns, "speakers": order}))
    built = json.loads(turns_file.read_text())
    return audio, [tuple(t) for t in built["turns"]], built["speakers"]


def hypothesis(audio: np.ndarray, embedder: diarize.Embedder) -> tuple[list[tuple[str, float, float]], float]:
    """The stage's diarization of `audio` and its seconds (not VAD's: transcription runs it anyway)."""
    regions = speech_regions(audio, True)
    started = time.perf_counter()
    turns = diarize.diarize(audio, [(r.start, r.end) for r in regions], embedder).turns
    return [(t.speaker, t.start, t.end) for t in turns], time.perf_counter() - started


def name_shares(segments: list[Segment], ref: list[tuple[str, float, float]], speakers: list[str],
                episode: dict) -> tuple[float, float]:
    """(share of speech whose name is its speaker's, share given another person's name).

    A first name alone ("Julie", from speech) counts as right for "Julie Morgan AM"."""
    names = name_speakers(segments, episode)
    right = wrong = total = 0.0
    for segment in segments:
        truth = max(ref, key=lambda r: min(segment.end, r[2]) - max(segment.start, r[1]))[0]
        name, length = names[segment.speaker], segment.end - segment.start
        person = next((s for s in speakers if s == name or s.split()[0] == name), None)
        total += length
        right += length * (person == truth)
        wrong += length * (person is not None and person != truth)
    return right / total, wrong / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/podbrief-bench"))
    parser.add_argument("--models", default="mfcc,voice-encoder")
    parser.add_argument("--names-only", action="store_true", help="only the dialogue episodes (names, voiceprints)")
    args = parser.parse_args()
    speech = args.data / "speech"
    sets = [("sample", speech / "conversation/sample.wav", reference(speech / "conversation/sample.rttm")),
            ("example", speech / "diarization/diarizationExample.wav",
             reference(speech / "diarization/diarizationExample.segments")),
            ("debate", *synthetic(args.data, args.cache, 4, SYNTHETIC_SECONDS, False)[:2])]
    config = configmod.load(None)
    model = model_registry.resolve("whisper", config["transcribe"]["model"], Paths(args.cache / "home"))
    engine = WhisperEngine(model.path, stage.settings(config))
    print("| set | speaker model | minutes | DER % | speakers (true) | diarize s/audio h | transcribe s/audio h"
          " | added |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path, ref in [] if args.names_only else sets:
        audio = load_audio(path)
        hours = audio.size / SAMPLE_RATE / 3600
        started = time.perf_counter()
        engine.transcribe(audio)
        transcribe_cost = (time.perf_counter() - started) / hours
        for model_name in args.models.split(","):
            hyp, seconds = hypothesis(audio, diarize.embedder(model_name))
            print(f"| {name} | {model_name} | {audio.size / SAMPLE_RATE / 60:.1f} | {100 * der(ref, hyp):.1f} "
                  f"| {len({h[0] for h in hyp})} ({len({r[0] for r in ref})}) | {seconds / hours:.0f} "
                  f"| {transcribe_cost:.0f} | {100 * seconds / hours / transcribe_cost:.0f}% |", flush=True)
    print("\n| dialogue episode (2 voices, 10 min, mfcc), in order | DER % | names right % | wrong names % "
          "| with the show's voiceprints: right % | wrong % |")
    print("|---|---|---|---|---|---|")
    memory = Paths(Path(tempfile.mkdtemp()))  # one show's voiceprint store across the three episodes
    for thanks, first_turn, kind in ((False, 0, "1: feed lists host and guest"), (True, 0, "2: names said in speech only"),
                                     (False, 25, "3: no names anywhere (a later part of the debate)")):
        path, ref, speakers = synthetic(args.data, args.cache, 2, DIALOGUE_SECONDS, thanks, first_turn)
        audio = load_audio(path)
        windows, voices = diarized_windows(audio, engine.settings.vad, diarize.embedder("mfcc"))
        segments, _ = engine.transcribe(audio, windows=windows)
        episode = ({"persons": [{"name": speakers[0], "role": "host"}, {"name": speakers[1], "role": "guest"}]}
                   if kind.startswith("1") else {})
        alone = name_shares([Segment(s.start, s.end, s.text, s.speaker) for s in segments], ref, speakers, episode)
        doc = voiceprints.name_transcript(memory, {
            "model": {"speakers": "mfcc"}, "voices": {k: v.tolist() for k, v in voices.items()},
            "segments": [{"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker} for s in segments]},
            {"feed_id": "0" * 16, **episode})
        remembered = name_shares([Segment(s["start"], s["end"], s["text"], s["speaker"]) for s in doc["segments"]],
                                 ref, speakers, episode)
        hyp = [(s.speaker, s.start, s.end) for s in segments]
        print(f"| {kind} | {100 * der(ref, hyp):.1f} | {100 * alone[0]:.0f} | {100 * alone[1]:.0f} "
              f"| {100 * remembered[0]:.0f} | {100 * remembered[1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
