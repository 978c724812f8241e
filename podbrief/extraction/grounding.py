"""Tie every insight to the transcript: a verbatim quote with times, and checks that the
insight says nothing its passage does not.

The model never supplies quotes or times. We choose the quote ourselves (the passage
sentences the insight draws on most), find it in the transcript with rapidfuzz and take
the times of the segments it spans. An insight whose passage does not support it
(content words, numbers, names) is dropped as ungrounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from podbrief.extraction import passages
from podbrief.formats.transcripts import Segment

QUOTE_MAX_WORDS = 45
MATCH_MIN_SCORE = 90.0  # rapidfuzz partial_ratio: below this a span is not the quote
MIN_SUPPORT = 0.6  # share of the insight's content words (names aside) found in its passage
COPY_NGRAM = 4
COPY_MAX = 0.5  # share of the insight's word 4-grams found verbatim in the passage: above = a copy

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CAPITALISED = re.compile(r"(?<=[a-z,;:]\s)[A-Z][A-Za-z'-]+")
STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers him
his how i if in into is it its itself just me more most my no nor not now of off on once only or other our out over
own same she should so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
argue argues argued say says said note notes noted report reports reported explain explains explained suggest
suggests suggested claim claims claimed believe believes think thinks point points out according speaker also
""".split())  # noqa: SIM905 (a word list reads better as text)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _stem(word: str) -> str:
    """A crude stem (the first 5 letters): enough to match "universities" with "university"."""
    return word[:5]


def content(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in STOP and len(w) > 2}


def copy_ratio(text: str, source: str, n: int = COPY_NGRAM) -> float:
    """Share of the word n-grams of `text` that appear verbatim in `source`."""
    mine, theirs = words(text), words(source)
    grams = {tuple(mine[i:i + n]) for i in range(len(mine) - n + 1)}
    if not grams:
        return 0.0
    found = {tuple(theirs[i:i + n]) for i in range(len(theirs) - n + 1)}
    return len(grams & found) / len(grams)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)}


def unsupported(insight: str, passage: str, names: Iterable[str], min_support: float = MIN_SUPPORT) -> str | None:
    """Why `insight` is not grounded in `passage` (None when it is).

    `names` are the speaker and other names we supplied (they need not be in the passage).
    """
    allowed = " ".join(names)
    claim = content(insight) - content(allowed)
    source = content(passage)
    if not claim or len(claim & source) / len(claim) < min_support:
        return "its content is not in the passage"
    if extra := _numbers(insight) - _numbers(passage):
        return f"number {min(extra)} is not in the passage"
    lowered = f"{passage} {allowed}".lower()
    for name in CAPITALISED.findall(insight):
        if name.lower() not in lowered:
            return f"name {name!r} is not in the passage"
    return None


def choose_quote(insight: str, passage: str) -> str:
    """The run of consecutive passage sentences (at most QUOTE_MAX_WORDS words) sharing the most
    content words with the insight; a longer sentence is clipped at a clause break."""
    wanted = content(insight)
    sentences = passages.sentences(passage)
    best, best_score = "", -1.0
    for first in range(len(sentences)):
        for last in range(first, len(sentences)):
            span = " ".join(sentences[first:last + 1])
            count = len(span.split())
            if count > QUOTE_MAX_WORDS and last > first:
                break
            if count > QUOTE_MAX_WORDS:
                span = _clip(span)
            score = len(wanted & content(span)) - 0.02 * len(span.split())
            if score > best_score:
                best, best_score = span, score
    return best


def _clip(sentence: str) -> str:
    """A sentence longer than QUOTE_MAX_WORDS, cut at its last clause break within the limit
    (a comma, semicolon, colon or dash), else at the limit."""
    head = " ".join(sentence.split()[:QUOTE_MAX_WORDS])
    cut = max(head.rfind(mark) for mark in (",", ";", ":", " —", " -"))
    return head[:cut] if len(head[:cut].split()) >= QUOTE_MAX_WORDS // 3 else head


@dataclass(frozen=True)
class Quote:
    text: str
    start: float
    end: float


def locate(quote: str, segments: Sequence[Segment]) -> Quote | None:
    """Find `quote` in the segments' text (exactly, else by fuzzy match) and return the transcript's own
    words for it, timed within the segments it spans; None when it is not there."""
    quote = " ".join(quote.split())
    if not quote:
        return None
    texts = [" ".join(s.text.split()) for s in segments]
    full = " ".join(texts)
    begin = full.find(quote)
    if begin >= 0:
        end = begin + len(quote)
    else:
        match = fuzz.partial_ratio_alignment(quote, full, score_cutoff=MATCH_MIN_SCORE)
        if match is None:
            return None
        begin, end = match.dest_start, match.dest_end
        while begin > 0 and not full[begin - 1].isspace():  # whole words only
            begin -= 1
        while end < len(full) and not full[end].isspace():
            end += 1
    covered = []  # (segment, offset of its text in `full`)
    offset = 0
    for segment, text in zip(segments, texts):
        if offset < end and begin < offset + len(text):
            covered.append((segment, offset))
        offset += len(text) + 1
    text = full[begin:end].strip()
    if not covered or not text:
        return None
    return Quote(text, _time_at(*covered[0], begin), _time_at(*covered[-1], end))


def _time_at(segment: Segment, offset: int, position: int) -> float:
    """The time of character `position` (in the joined text), estimated by its share of the segment's
    characters: long segments (30 s ASR windows) would otherwise send an audio link up to 30 s early."""
    length = max(len(" ".join(segment.text.split())), 1)
    share = min(max((position - offset) / length, 0.0), 1.0)
    return segment.start + share * (segment.end - segment.start)
