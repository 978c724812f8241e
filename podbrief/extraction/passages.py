"""Cut a transcript into passages and pick the ones worth an insight, without a model.

A passage is one speaker's words, about 150 words long: a whole turn, or a window
of a long turn (segment timestamps kept). Selection scores every passage with
cheap text cues and then spreads the picks over the episode; docs/extract.md
shows how each choice was measured against human topic spans.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from podbrief.formats.transcripts import Segment

TARGET_WORDS = 150  # a passage long enough to hold a claim with its reason, short enough for a small model
MAX_WORDS = 220
MIN_WORDS = 40  # shorter turns are questions, agreement or procedure: never candidates


@dataclass(frozen=True)
class Passage:
    index: int
    speaker: str | None
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments).strip()

    @property
    def start(self) -> float:
        return self.segments[0].start

    @property
    def end(self) -> float:
        return self.segments[-1].end

    @property
    def words(self) -> int:
        return sum(len(s.text.split()) for s in self.segments)


def split_long_segments(segments: Sequence[Segment], limit: int = MAX_WORDS) -> list[Segment]:
    """Split segments longer than `limit` words (publisher transcripts may hold whole turns)
    at sentence ends, timing each piece by its share of the words."""
    result: list[Segment] = []
    for segment in segments:
        words = segment.text.split()
        if len(words) <= limit:
            result.append(segment)
            continue
        pieces = _chunks(sentences(segment.text), limit)
        total = sum(len(p.split()) for p in pieces)
        position = 0
        span = segment.end - segment.start
        for piece in pieces:
            count = len(piece.split())
            start = segment.start + span * position / total
            position += count
            result.append(Segment(start, segment.start + span * position / total, piece, segment.speaker))
    return result


ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Hon|St|Sr|Jr|vs|etc|e\.g|i\.e|No)\.$")


def sentences(text: str) -> list[str]:
    """Split at ., ! or ? followed by a space, except after titles such as "Dr." or "Hon."."""
    result: list[str] = []
    for piece in re.split(r"(?<=[.!?])\s+", text.strip()):
        if result and ABBREVIATION.search(result[-1]):
            result[-1] += " " + piece
        elif piece:
            result.append(piece)
    return result


def _chunks(parts: list[str], limit: int) -> list[str]:
    """Pack sentences into pieces of at most `limit` words; a longer sentence is cut by words."""
    pieces: list[str] = []
    current: list[str] = []
    for sentence in parts:
        words = sentence.split()
        while len(words) > limit:
            pieces.append(" ".join(words[:limit]))
            words = words[limit:]
        if current and len(current) + len(words) > limit:
            pieces.append(" ".join(current))
            current = []
        current.extend(words)
    if current:
        pieces.append(" ".join(current))
    return pieces


def build_passages(segments: Sequence[Segment]) -> list[Passage]:
    """Speaker turns, long ones cut into near-equal windows at segment boundaries."""
    turns: list[list[Segment]] = []
    for segment in split_long_segments(segments):
        if not segment.text.strip():
            continue
        if turns and turns[-1][0].speaker == segment.speaker:
            turns[-1].append(segment)
        else:
            turns.append([segment])
    passages: list[Passage] = []
    for turn in turns:
        for window in _windows(turn):
            passages.append(Passage(len(passages), window[0].speaker, tuple(window)))
    return passages


def _windows(turn: list[Segment]) -> list[list[Segment]]:
    total = sum(len(s.text.split()) for s in turn)
    count = max(1, round(total / TARGET_WORDS))
    if total / count > MAX_WORDS:
        count += 1
    size = total / count
    windows: list[list[Segment]] = [[]]
    filled = 0
    for segment in turn:
        words = len(segment.text.split())
        # start a new window when this segment would end nearer the next window's share
        if windows[-1] and len(windows) < count and filled + words / 2 > size * len(windows):
            windows.append([])
        windows[-1].append(segment)
        filled += words
    return windows


# --- scoring ------------------------------------------------------------------------------

def _cue(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


CAUSAL = _cue("because", "therefore", "so that", "which means", "as a result", "leads? to", "due to", "the reason",
              "that's why", "caused?", "means that", "in order to")
STANCE = _cue("I think", "I believe", "we found", "we know", "evidence", "research", "study", "data", "the key",
              "important", "crucial", "significant", "we need", "should", "must", "will", "going to", "expect",
              "predict", "recommend")
FILLER = _cue("um+", "uh+", "erm", "you know", "I mean", "sort of", "kind of", "yeah", "okay", "OK", "right")
PROCEDURE = _cue("thank you", "thanks", "welcome", "good (?:morning|afternoon|evening)", "chair", "next question",
                 "move on", "apologies", "sorry", "can you hear", "on mute", "bear with", "let me ask", "my question",
                 "I'd like to ask", "could you tell", "subscribe", "patreon", "leave a review", "having me")
AD = _cue("sponsor(?:ed)?", "promo code", "discount code", "use code", "offer code", "free trial", "brought to you by",
          "dot com", r"[a-z]+\.com", "% off", "sign up", "today's episode is supported")


def passage_score(passage: Passage) -> float:
    """How likely a passage carries a substantive point, from its length and cue densities per 100 words.

    Weights were chosen on QMSum train meetings and checked on val (benchmarks/extract.py
    --selection, docs/extract.md): length is the one strong signal there; number, name and
    contrast cues did not help and are left out. Ad cues are for podcasts (QMSum has no ads):
    two of them exclude a passage.
    """
    text = passage.text
    words = passage.words
    if words < MIN_WORDS or len(AD.findall(text)) >= 2:  # an ad read names a sponsor and a code or URL
        return -math.inf

    def density(pattern: re.Pattern[str]) -> float:
        return 100 * len(pattern.findall(text)) / words

    questions = text.count("?") / max(len(sentences(text)), 1)
    return (
        5.0 * math.log(min(words, MAX_WORDS) / MIN_WORDS)
        + 0.30 * min(density(CAUSAL), 4)
        + 0.15 * min(density(STANCE), 6)
        - 0.15 * density(FILLER)
        - 0.20 * density(PROCEDURE)
        - 2.00 * len(AD.findall(text))
        - 1.00 * questions
    )

