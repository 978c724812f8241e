"""QMSum meetings as podbrief transcripts, for the extract benchmark.

QMSum (Yale-LILY, MIT; built on AMI/ICSI CC BY 4.0 and parliamentary records) has
real transcripts with speaker names, human topic summaries and the turn spans they cover.
There is no audio, so times are synthetic: 150 spoken words per minute.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

WORDS_PER_SECOND = 150 / 60
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "qmsum"


@dataclass
class Meeting:
    name: str
    transcript: dict  # podbrief.transcript/1
    turn_of_segment: list[int]  # segment index -> QMSum turn index
    queries: list[tuple[str, str, set[int]]]  # (query, human answer, turn indices it covers)
    topics: list[tuple[str, set[int]]]

    @property
    def words(self) -> int:
        return sum(len(s["text"].split()) for s in self.transcript["segments"])

    @property
    def hours(self) -> float:
        return self.words / WORDS_PER_SECOND / 3600


def _span(spans: list[list[str]]) -> set[int]:
    return {i for a, b in spans for i in range(int(a), int(b) + 1)}


def _clean(text: str) -> str:
    """Undo QMSum's tokenised punctuation ("we 're on ." -> "we're on.")."""
    text = re.sub(r"\s+([.,!?;:%])", r"\1", text)
    text = re.sub(r"\s+(n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def load(path: Path) -> Meeting:
    data = json.loads(path.read_text())
    segments: list[dict] = []
    turn_of_segment: list[int] = []
    clock = 0.0
    for turn, entry in enumerate(data["meeting_transcripts"]):
        for sentence in re.split(r"(?<=[.!?])\s+", _clean(entry["content"])):
            if not sentence:
                continue
            length = len(sentence.split()) / WORDS_PER_SECOND
            segments.append({"start": round(clock, 2), "end": round(clock + length, 2), "text": sentence,
                             "speaker": entry["speaker"], "flags": []})
            turn_of_segment.append(turn)
            clock += length
    transcript = {"schema": "podbrief.transcript/1", "episode_id": None, "source": "publisher", "audio": None,
                  "language": "en", "duration": round(clock, 2), "model": None, "created": None,
                  "segments": segments}
    queries = [(q["query"], q["answer"], _span(q["relevant_text_span"])) for q in data["specific_query_list"]]
    topics = [(t["topic"], _span(t["relevant_text_span"])) for t in data["topic_list"]]
    return Meeting(path.stem, transcript, turn_of_segment, queries, topics)


def meetings(split: str, prefixes: tuple[str, ...] = ("covid", "education")) -> list[Meeting]:
    return [load(p) for p in sorted((DATA / split).glob("*.json")) if p.stem.startswith(prefixes)]
