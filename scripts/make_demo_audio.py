#!/usr/bin/env python3
"""Synthesise the bundled demo episodes from excerpts of real transcripts (Practical AI, QMSum).

Developer tool, not used at run time: it needs espeak-ng (`apt-get install espeak-ng`)
and PyAV (installed with faster-whisper). Each excerpt is a few turns of a real
podcast (Practical AI, CC BY-SA 4.0) or debate (the QMSum validation split, MIT; see
podbrief/demo/SOURCES.md). Every
speaker gets their own espeak-ng voice; a short host intro names the speakers so
the extract stage can attribute insights. Shows marked "transcripts" also publish a
WebVTT transcript with speaker names, as many hosts do (Podcasting 2.0), so the demo
shows both the ASR path and the publisher-transcript path. Output, committed to the repo:

    podbrief/demo/audio/<slug>.mp3     16 kHz mono MP3 (small: the set stays under 2 MB)
    podbrief/demo/transcripts/<slug>.vtt   the publisher transcript, for shows with "transcripts"
    podbrief/demo/shows.json           shows, episodes, persons and descriptions for the demo feeds

Usage: python scripts/make_demo_audio.py [--qmsum DIR] [--podcasts DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import wave
from pathlib import Path

import av
import numpy as np

from podbrief.extraction import passages
from podbrief.formats import transcripts

OUT_DIR = Path(__file__).resolve().parent.parent / "podbrief" / "demo"
SAMPLE_RATE = 16000
BITRATE = 24000
PAUSE_SECONDS = 0.5
WORDS_PER_MINUTE = 150
HOST_VOICE = "en-us+m3"

SHOWS = [
    {
        "slug": "practical-ai",
        "title": "Practical AI",
        "host": "Daniel Whitenack",
        "description": "Excerpts of Changelog's Practical AI podcast, read by synthetic voices: people who build with AI "
                       "on what is changing and why.",
        "transcripts": True,
        "episodes": [
            {
                "slug": "ai-index-regulation",
                "title": "The AI Index 2024: where AI regulation is coming from",
                "source": "practical-ai-276.md",
                "turns": (26, 28),
                "age_hours": 3,
                "speakers": {
                    "Daniel Whitenack": ("Daniel Whitenack", "host", HOST_VOICE),
                    "Nestor Maslej": ("Nestor Maslej", "guest", "en-us+m5"),
                },
                "intro": "Welcome to Practical AI. This is Daniel Whitenack. Today, Nestor Maslej, research manager "
                         "at the Stanford Institute for Human-Centered AI, on the 2024 AI Index report.",
            },
            {
                "slug": "serverless-vectors",
                "title": "Pinecone on serverless vector databases",
                "source": "practical-ai-277.md",
                "turns": (45, 47),
                "age_hours": 20,
                "speakers": {
                    "Daniel Whitenack": ("Daniel Whitenack", "host", HOST_VOICE),
                    "Roie Schwaber-Cohen": ("Roie Schwaber-Cohen", "guest", "en-us+f2"),
                },
                "intro": "Welcome to Practical AI. This is Daniel Whitenack. Today, Roie Schwaber-Cohen, a developer "
                         "advocate at Pinecone, on vector databases.",
            },
        ],
    },
    {
        "slug": "care-crisis",
        "title": "The Care Crisis",
        "host": "Rhian Evans",
        "description": "How the pandemic exposed the state of care for older people, one hard exchange at a time.",
        "transcripts": False,  # this show publishes audio only: the demo's episode for speech recognition and diarization
        "episodes": [
            {
                "slug": "national-standards",
                "title": "Should long-term care have national standards?",
                "source": "covid_6.json",
                # Audio only, two voices: the host narrates the minister's reply between Don Davies' two turns,
                # so speech recognition, diarization and naming (the feed lists the host and one guest) carry it.
                "script": (215, "Health Minister Patty Hajdu replied that she is working with the provinces and "
                                "territories on better standards. Don Davies went on.", 217),
                "age_hours": 6,
                "speakers": {
                    "Mr. Don Davies": ("Don Davies", "guest", "en-us+Andy"),  # MFCC tells it from the host's voice
                },
                "intro": "This is The Care Crisis. In the House of Commons, Don Davies of the New Democrats presses "
                         "the government on care homes after the military's report.",
            },
        ],
    },
]


def speak(text: str, voice: str) -> np.ndarray:
    """Synthesise `text` with espeak-ng; returns float32 mono samples at SAMPLE_RATE."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "--stdout", text],
        check=True, capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    # Linear resampling is plenty for synthetic speech.
    positions = np.arange(0, len(samples), rate / SAMPLE_RATE)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32) / 32768.0


def encode_mp3(samples: np.ndarray, path: Path) -> None:
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = BITRATE
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def clean(text: str) -> str:
    """Spell out what espeak-ng reads badly ("$300" becomes "dollar three hundred")."""
    text = re.sub(r"\$(\d[\d,]*)", r"\1 dollars", text)
    return text.replace("—", ", ").replace("’", "'").strip()


def cues(text: str, speaker: str, start: float, end: float) -> list[dict]:
    """One transcript segment per sentence, timed by its share of the turn's characters."""
    sentences = passages.sentences(text)
    total, done, segments = sum(len(s) for s in sentences), 0, []
    for sentence in sentences:
        first = start + (end - start) * done / total
        done += len(sentence)
        segments.append({"start": round(first, 2), "end": round(start + (end - start) * done / total, 2),
                         "text": sentence, "speaker": speaker})
    return segments


def read_turns(source: Path) -> list[dict]:
    """A source's turns as {"speaker", "content"}: a QMSum meeting (JSON), or a speaker-labelled Markdown
    transcript (Practical AI), one turn per paragraph."""
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".md":
        return [{"speaker": cue.speaker, "content": cue.text} for cue in transcripts.parse_markdown(text)]
    return json.loads(text)["meeting_transcripts"]


def credit(episode: dict, first: int, last: int) -> str:
    """Where an excerpt comes from, for the episode's description."""
    if episode["source"].endswith(".md"):
        number = re.sub(r"\D", "", episode["source"])
        return f"Practical AI #{number} (Changelog Media, CC BY-SA 4.0), paragraphs {first}-{last}"
    told = ", the reply between them told by the host" if episode.get("script") else ""
    return f"a real session (QMSum {episode['source']}, turns {first}-{last}{told})"


def build_episode(show: dict, episode: dict, data: dict[str, Path], out_dir: Path) -> dict:
    source = data["podcasts" if episode["source"].endswith(".md") else "qmsum"] / episode["source"]
    turns = read_turns(source)
    # A script is turn numbers and lines the host reads; without one, every turn of `turns` (first, last).
    script = episode.get("script") or range(episode["turns"][0], episode["turns"][1] + 1)
    numbers = [step for step in script if isinstance(step, int)]
    first, last = numbers[0], numbers[-1]
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    spoken = [(show["host"], episode["intro"], HOST_VOICE)]
    for step in script:
        if isinstance(step, str):
            spoken.append((show["host"], step, HOST_VOICE))
            continue
        name, _, voice = episode["speakers"][turns[step]["speaker"]]
        spoken.append((name, clean(turns[step]["content"]), voice))
    pieces, segments, at = [], [], 0.0
    for name, text, voice in spoken:
        speech = speak(text, voice)
        segments += cues(text, name, at, at + len(speech) / SAMPLE_RATE)
        pieces += [speech, pause]
        at += (len(speech) + len(pause)) / SAMPLE_RATE
    samples = np.concatenate(pieces)
    audio = out_dir / "audio" / f"{episode['slug']}.mp3"
    encode_mp3(samples, audio)
    persons = [{"name": show["host"], "role": "host"}]
    for name, role, _ in episode["speakers"].values():
        if all(p["name"] != name for p in persons):
            persons.append({"name": name, "role": role})
    guests = " and ".join(p["name"] for p in persons if p["role"] == "guest")
    return {
        "slug": episode["slug"],
        "title": episode["title"],
        "description": f"{episode['intro']} With {guests}. Hosted by {show['host']}. "
                       f"Excerpt of {credit(episode, first, last)}, read by synthetic voices.",
        "persons": persons,
        "audio": audio.name,
        "transcript": write_transcript(segments, out_dir / "transcripts" / f"{episode['slug']}.vtt")
        if show.get("transcripts") else None,
        "bytes": audio.stat().st_size,
        "duration": round(len(samples) / SAMPLE_RATE, 1),
        "age_hours": episode["age_hours"],
    }


def write_transcript(segments: list[dict], path: Path) -> str:
    path.write_text(transcripts.to_vtt({"segments": segments}), encoding="utf-8")
    return path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qmsum", type=Path, default=Path("/work/shared/data/qmsum/val"),
                        help="the QMSum validation split (directory of JSON files)")
    parser.add_argument("--podcasts", type=Path, default=Path("/work/shared/data/podcasts/practical-ai"),
                        help="Practical AI's Markdown transcripts")
    args = parser.parse_args()
    for folder in ("audio", "transcripts"):
        (OUT_DIR / folder).mkdir(parents=True, exist_ok=True)
    data = {"qmsum": args.qmsum, "podcasts": args.podcasts}
    shows = []
    for show in SHOWS:
        episodes = [build_episode(show, episode, data, OUT_DIR) for episode in show["episodes"]]
        shows.append({key: show[key] for key in ("slug", "title", "host", "description")} | {"episodes": episodes})
        for episode in episodes:
            print(f"{episode['audio']}: {episode['duration']:.0f} s, {episode['bytes'] / 1000:.0f} kB")
    (OUT_DIR / "shows.json").write_text(json.dumps({"shows": shows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
