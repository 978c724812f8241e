"""The shape of a podcast episode, from its transcript and chapters, without a model.

A real podcast is not a meeting (shared QUALITY notes, docs/extract.md): it opens with
a trailer or highlight clips, an intro and sponsor reads, the host asks long questions,
the guest gives long answers, and it ends with an outro. Each passage gets one role:

  body       a candidate for an insight
  intro      the show's opening: who is here, what the episode is about
  outro      thanks, goodbyes, where to find the show
  ad         a sponsor read
  question   a host's question or set-up (the context of the answer that follows, never an insight)
  highlight  a cold-open clip: the same words come again later in the body

The show's editor picked the highlights, so the body passages they repeat are marked
`highlighted`: a human signal of what matters in the episode. Every body passage also
gets the question it answers (the other speaker's turn just before its own turn).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from podbrief.extraction.passages import AD, Passage, passage_score, sentences

QUESTION_WORDS = 80  # the question shown to the model with its answer: its last N words
FOLLOWING_WORDS = 100
EDGE_SHARE = 0.12  # intros live in the first, outros in the last 12% of an episode ...
EDGE_SECONDS = 240.0  # ... or its first / last 4 minutes, whichever is longer
COLD_OPEN_SECONDS = 90.0
HIGHLIGHT_MATCH = 88.0  # rapidfuzz partial_ratio of a cold-open sentence against a later passage
HOST_QUESTION_SHARE = 0.3  # a voice asking questions in this share of its turns is a host

INTRO = re.compile(r"\b(?:welcome (?:to|back)|this is (?:the|another|episode)|I'm joined|joined (?:as always|by)|"
                   r"my co-?host|on (?:today's|this) (?:episode|show)|today we(?:'re| are| have)|our guest|"
                   r"episode of|(?:the|this) podcast)\b", re.IGNORECASE)
OUTRO = re.compile(r"\b(?:thanks? (?:so much |a lot |again )?(?:for|to you)|thank you (?:so much |again )?for|"
                   r"that's (?:all|it) for|see you|next time|talk to you|until next|subscribe|leave (?:us )?a review|"
                   r"show notes|(?:we'll|I'll) include (?:a few |the |some )?links|having me|where can (?:people|folks))\b",
                   re.IGNORECASE)
CHAPTER_SKIP = re.compile(r"\b(?:intro|introduction|outro|sponsor|ad|ads|advert|break|credits|trailer|teaser|"
                          r"preview|highlights?|cold open|housekeeping|announcements?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Shaped:
    """A passage with its role in the episode and the question it answers."""

    passage: Passage
    role: str
    question: str  # the preceding other speaker's words (last QUESTION_WORDS), "" when none
    questioner: str | None  # that speaker's label
    following: str = ""  # the same speaker's next words (FOLLOWING_WORDS), wider context for the brief's polish
    by_host: bool = False  # spoken by a voice that hosts (see hosts)
    highlighted: bool = False
    chapter: int | None = None  # index of the chapter it falls in, when the episode has chapters


def hosts(passages: Sequence[Passage], episode: dict[str, Any] | None) -> set[str | None]:
    """The labels of the voices that host: the opening voice and any voice that mostly asks questions."""
    asked: Counter[str | None] = Counter()
    turns: Counter[str | None] = Counter()
    previous = object()
    for passage in passages:
        if passage.speaker != previous:
            turns[passage.speaker] += 1
            asked[passage.speaker] += "?" in passage.text
            previous = passage.speaker
    found = {label for label in turns if turns[label] >= 3 and asked[label] / turns[label] >= HOST_QUESTION_SHARE}
    if passages:
        found.add(passages[0].speaker)
    named = {str(p.get("name")) for p in (episode or {}).get("persons") or [] if isinstance(p, dict)
             and str(p.get("role", "")).lower() == "host"}
    found |= {label for label in turns if label in named}
    if len(found) == len(turns) and len(turns) > 1:  # everyone asks: nobody is only a host (a panel of hosts)
        return {passages[0].speaker}
    return found


def chapter_index(chapters: Sequence[dict[str, Any]], moment: float) -> int | None:
    """The index of the chapter `moment` falls in (chapters sorted by startTime), None before the first."""
    found = None
    for index, chapter in enumerate(chapters):
        if float(chapter["startTime"]) <= moment:
            found = index
    return found


def shape(passages: Sequence[Passage], duration: float, episode: dict[str, Any] | None = None,
          chapters: Sequence[dict[str, Any]] = ()) -> list[Shaped]:
    """The role of every passage, its question and whether the show's highlights repeat it."""
    edge = max(EDGE_SECONDS, EDGE_SHARE * duration)
    host_labels = hosts(passages, episode)
    chapters = sorted(chapters, key=lambda c: float(c["startTime"]))
    shaped: list[Shaped] = []
    for position, passage in enumerate(passages):
        question, questioner = _question(passages, position)
        where = chapter_index(chapters, passage.start) if chapters else None
        by_host = passage.speaker in host_labels
        role = _role(passage, passages, position, duration, edge, by_host,
                     chapters[where] if where is not None else None)
        after = passages[position + 1] if position + 1 < len(passages) else None
        following = " ".join(after.text.split()[:FOLLOWING_WORDS]) if after and after.speaker == passage.speaker else ""
        shaped.append(Shaped(passage, role, question, questioner, following, by_host, chapter=where))
    return _mark_highlights(shaped, edge)


def _role(passage: Passage, passages: Sequence[Passage], position: int, duration: float, edge: float,
          by_host: bool, chapter: dict[str, Any] | None) -> str:
    text = passage.text
    title = str((chapter or {}).get("title") or "").lower()
    if CHAPTER_SKIP.search(title):
        return "ad" if re.search(r"sponsor|\bads?\b|advert|break", title) else (
            "outro" if re.search(r"outro|credits", title) else "intro")
    if len(AD.findall(text)) >= 2:
        return "ad"
    if passage.start < edge and len(INTRO.findall(text)) >= 1 and position < len(passages) / 4:
        return "intro"
    if passage.end > duration - edge and OUTRO.search(text):
        return "outro"
    said = sentences(text)
    asks = sum(s.rstrip().endswith("?") for s in said)
    if by_host and (asks and (said[-1].rstrip().endswith("?") or asks / len(said) >= 0.3)):
        return "question"
    return "body"


def _question(passages: Sequence[Passage], position: int) -> tuple[str, str | None]:
    """The other speaker's words just before this passage's turn began (its last QUESTION_WORDS words)."""
    speaker = passages[position].speaker
    index = position
    while index > 0 and passages[index - 1].speaker == speaker:
        index -= 1
    if index == 0:
        return "", None
    asker = passages[index - 1].speaker
    words: list[str] = []
    while index > 0 and passages[index - 1].speaker == asker and len(words) < QUESTION_WORDS:
        index -= 1
        words = passages[index].text.split() + words
    return " ".join(words[-QUESTION_WORDS:]), asker


def _mark_highlights(shaped: list[Shaped], edge: float) -> list[Shaped]:
    """A passage before the intro (or in the first COLD_OPEN_SECONDS when there is none) whose sentences
    recur in a later passage is a highlight clip; the later passage is what the show's editor picked."""
    intro = next((s.passage.start for s in shaped if s.role == "intro"), None)
    until = min(intro, edge) if intro is not None else COLD_OPEN_SECONDS
    opening = [i for i, s in enumerate(shaped) if s.passage.end <= until]
    picked: set[int] = set()
    clips: set[int] = set()
    for i in opening:
        long_sentences = [s for s in sentences(shaped[i].passage.text) if len(s.split()) >= 8]
        for j in range(max(opening, default=-1) + 1, len(shaped)):
            later = shaped[j].passage.text
            if any(fuzz.partial_ratio(s, later) >= HIGHLIGHT_MATCH for s in long_sentences):
                picked.add(j)
                clips.add(i)
    return [dataclasses.replace(item, role="highlight" if i in clips else item.role, highlighted=i in picked)
            for i, item in enumerate(shaped)]


# --- selection ------------------------------------------------------------------------------

SUBSTANCE = re.compile(r"\b(?:\d[\d,.]*%?|percent|half|twice|double|million|billion|thousand|"
                       r"but|actually|instead|rather than|the problem|the key|the reason|the trick|surprising(?:ly)?|"
                       r"misconception|myth|counter-?intuitive|in fact|turns out|will|going to|in the next|"
                       r"by 20\d\d|the future|because|which means|so that)\b", re.IGNORECASE)
GUEST_BONUS = 1.5  # an answer by a guest over a host's aside
HIGHLIGHT_BONUS = 3.0  # the show's editor chose it for the cold open


def score(item: Shaped) -> float:
    """How likely a body passage holds a claim with its reason: the text score (passages.passage_score),
    substance cues (numbers, contrasts, mechanisms, predictions), a guest's answer, an editor's pick."""
    base = passage_score(item.passage)
    cues = len(SUBSTANCE.findall(item.passage.text)) * 100 / max(item.passage.words, 1)
    return (base + 0.25 * min(cues, 8) + (0.0 if item.by_host else GUEST_BONUS)
            + (HIGHLIGHT_BONUS if item.highlighted else 0.0))


def select(shaped: Sequence[Shaped], count: int, duration: float) -> list[Shaped]:
    """Body passages in the order to try them: the best of each part of the episode first (its chapters,
    else `count` equal time slices, so insights come from all of it), then the next best of each."""
    if count <= 0:
        return []
    scored = [(score(s), s) for s in shaped if s.role == "body"]
    scored = [(value, s) for value, s in scored if value > float("-inf")]
    width = max(duration, max((s.passage.end for _, s in scored), default=0.0), 1e-9) / count
    buckets: dict[int, list[tuple[float, Shaped]]] = {}
    for value, item in scored:
        key = item.chapter if item.chapter is not None else min(int(item.passage.start / width), count - 1)
        buckets.setdefault(key, []).append((value, item))
    ranked = [sorted(bucket, key=lambda vs: -vs[0]) for _, bucket in sorted(buckets.items())]
    order: list[Shaped] = []
    for rank in range(max((len(b) for b in ranked), default=0)):
        layer = [b[rank] for b in ranked if rank < len(b)]
        order.extend(s for _, s in sorted(layer, key=lambda vs: -vs[0]))
    return order
