"""The score of an insight: the sum of the parts recorded in its `why`.

  interest  sum over `rank.interests` of weight x match (1 for a topic or a word of the
            text, up to 0.5 for a similar meaning by embedding)
  quality   mean of the insight's specificity (0..1) and, where extract recorded the verifier's P(yes)
            that it is faithful (`faithful_each`, the lowest over its sentences, else `faithful`, asked of
            the whole), of that P(yes) and 1/0 for whether the text names its speaker (its
            reason sentence survived; left out for "the host"/"a guest"). Chosen on the blind judgements
            (benchmarks/rankfeatures.py, docs/extract.md "What the brief's score should read"):
            surprise and actionability did not predict what readers judged faithful or good
  novelty   1, lowered towards 0 the closer it is to an insight already delivered
  recency   0.5 ** (age in days / `rank.recency_half_life_days`); 0 if the date is unknown
  feedback  -1..1 from `podbrief rate`: affinity to rated insights (same claim, similar
            text, shared topic, speaker or show) times their +1/-1
  avoid     -2 x the strongest match against `rank.avoid`
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podbrief.briefs import BriefItem, DeliveredItem, EarlierLink, RelatedInsight
from podbrief.engines import embed
from podbrief.errors import ConfigError
from podbrief.extraction.speakers import GENERIC_NAME
from podbrief.formats import is_number
from podbrief.formats.insights import Insight

# e5 cosine similarities, calibrated by benchmarks/related.py on tests/fixtures/related/. Related insights
# themselves are chosen by podbrief/related.py; RELATED is where novelty and feedback start to count closeness.
RELATED = 0.87  # same theme: best F1 of pairwise "related" decisions on the QMSum calibration set
DUPLICATE = 0.93  # same claim: between the crafted paraphrases (>= 0.94) and same-theme pairs (<= 0.92)
INTEREST_RAMP = (0.80, 0.86)  # interest (query) vs insight: no credit below, full semantic credit above
SEMANTIC_CREDIT = 0.5  # a match by meaning counts half of a topic or keyword match
AVOID_WEIGHT = 2.0
AFFINITY = {"topic": 0.5, "speaker": 0.3, "show": 0.2}  # how much a rating carries over by shared trait
QUALITY_SCORES = ("specificity",)  # and "faithful_each" (else "faithful") where extract measured it, and "named"
TITLES = frozenset({"hon", "right", "the", "mr", "mrs", "ms", "dr", "prof", "sir", "dame"})


@dataclass
class Entry:
    """One insight's score, its breakdown and what became of it."""

    insight: Insight
    why: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    status: str = ""
    rank: int | None = None
    duplicates: list[str] = field(default_factory=list)
    related: list[RelatedInsight] = field(default_factory=list)
    earlier: list[EarlierLink] = field(default_factory=list)  # the theme in earlier briefs (related.earlier)

    @property
    def id(self) -> str:
        return str(self.insight["id"])

    def item(self) -> BriefItem:
        """The brief item (schema podbrief.brief/1)."""
        return {"rank": self.rank, "score": self.score, "insight": self.insight, "why": self.why,
                "reasons": self.reasons, "duplicates": self.duplicates, "related": self.related,
                "earlier": self.earlier}


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def ramp(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


def _match(term: str, insight: Insight, similarity: float) -> tuple[float, str]:
    """How strongly an interest/avoid term matches: 1 for a topic or a word in the text, else by meaning."""
    term = norm(term)
    if any(topic in (term, term + "s") or term == topic + "s" for topic in map(norm, insight.get("topics") or [])):
        return 1.0, "topic"
    if re.search(rf"\b{re.escape(term)}s?\b", norm(insight["text"])):
        return 1.0, "in the text"
    strength = SEMANTIC_CREDIT * ramp(similarity, *INTEREST_RAMP)
    return (strength, f"similar meaning {similarity:.2f}") if strength else (0.0, "")


def _published(insight: Insight) -> dt.datetime | None:
    stamp = (insight.get("episode") or {}).get("published")
    try:
        moment = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def show_of(insight: Insight) -> str:
    episode = insight.get("episode") or {}
    return str(episode.get("show") or episode["id"])


def speaker_named(insight: Insight) -> float | None:
    """1.0 when the text names its speaker (a word of the name other than a title), 0.0 when not; None for
    an insight without a real name ("the host", "a guest"), which cannot name one. Judged blind, insights that
    name the speaker were the faithful ones more often (they carry the speaker's reason)."""
    speaker = str(insight.get("speaker") or "").strip()
    if not speaker or GENERIC_NAME.match(speaker):
        return None
    words = {w.lower() for w in _words(speaker) if len(w) > 1 and w.lower() not in TITLES}
    if not words:
        return None
    return 1.0 if words & {w.lower() for w in _words(str(insight.get("text") or ""))} else 0.0


def _words(text: str) -> list[str]:
    """Words without a possessive: "Smith's" is "Smith"."""
    return [w.removesuffix("'s").removesuffix("’s") for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", text)]


def _weights(interests: dict[Any, Any]) -> dict[str, float]:
    if not all(is_number(weight) for weight in interests.values()):
        raise ConfigError(f"rank.interests: every weight must be a number, got {interests!r}")
    return {str(term): float(weight) for term, weight in interests.items()}


class Scorer:
    """Everything the score of one insight depends on, embedded once."""

    def __init__(self, settings: dict[str, Any], now: dt.datetime, embedder: embed.Embedder,
                 shown: list[DeliveredItem], ratings: dict[str, dict[str, Any]]):
        self.settings = settings
        self.now = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
        self.shown = shown
        self.interests = _weights(settings["interests"])
        self.avoid = [str(term) for term in settings["avoid"]]
        terms = [*self.interests, *self.avoid]
        self.term_vectors = embedder.queries(terms)
        self.shown_vectors = embedder.passages([item["insight"].get("text") or "" for item in shown])
        self.rated = list(ratings.items())
        self.rated_vectors = embedder.passages([rating["text"] for _, rating in self.rated])

    def score(self, insights: list[Insight], vectors: np.ndarray) -> list[Entry]:
        term_sims = vectors @ self.term_vectors.T
        shown_sims = vectors @ self.shown_vectors.T
        rated_sims = vectors @ self.rated_vectors.T
        entries = []
        for row, insight in enumerate(insights):
            entry = Entry(insight)
            parts = (
                ("interest", self._interest(insight, term_sims[row, :len(self.interests)])),
                ("quality", self._quality(insight)),
                ("novelty", self._novelty(shown_sims[row])),
                ("recency", self._recency(insight)),
                ("feedback", self._feedback(insight, rated_sims[row])),
                ("avoid", self._avoid(insight, term_sims[row, len(self.interests):])),
            )
            for name, (value, reasons) in parts:
                entry.why[name] = round(value, 4)
                entry.reasons += reasons
            entry.score = round(sum(entry.why.values()), 4)
            entries.append(entry)
        return entries

    def _interest(self, insight: Insight, sims: np.ndarray) -> tuple[float, list[str]]:
        total, reasons = 0.0, []
        for (term, weight), similarity in zip(self.interests.items(), sims):
            strength, how = _match(term, insight, float(similarity))
            if strength:
                total += weight * strength
                reasons.append(f"interest {term!r} ({how}): {weight * strength:+.2f}")
        return total, reasons

    def _avoid(self, insight: Insight, sims: np.ndarray) -> tuple[float, list[str]]:
        matches = [(*_match(term, insight, float(s)), term) for term, s in zip(self.avoid, sims)]
        strength, how, term = max(matches, default=(0.0, "", ""))
        if not strength:
            return 0.0, []
        return -AVOID_WEIGHT * strength, [f"avoid {term!r} ({how}): {-AVOID_WEIGHT * strength:+.2f}"]

    @staticmethod
    def _quality(insight: Insight) -> tuple[float, list[str]]:
        scores = insight.get("scores") or {}
        verified = next((name for name in ("faithful_each", "faithful") if name in scores), None)
        names = QUALITY_SCORES + ((verified,) if verified else ())
        parts = {name: min(1.0, max(0.0, float(scores.get(name, 0.0)))) for name in names}
        named = speaker_named(insight) if verified else None  # measured on the verified writer's items
        if named is not None:
            parts["named"] = named
        value = sum(parts.values()) / len(parts)
        if named == 0.0:  # the one part not among the insight's own scores, explained where it costs
            return value, [f"quality: the text does not name its speaker {insight['speaker']!r} "
                           f"(mean of {', '.join(f'{name} {v:.2f}' for name, v in parts.items())})"]
        return value, []

    def _novelty(self, sims: np.ndarray) -> tuple[float, list[str]]:
        if not len(sims):
            return 1.0, []
        nearest = int(np.argmax(sims))
        closeness = ramp(float(sims[nearest]), RELATED, DUPLICATE)
        if not closeness:
            return 1.0, []
        shown = self.shown[nearest]
        reason = (f"close to {shown['insight']['id']}, delivered {shown['date']} "
                  f"(similarity {sims[nearest]:.2f}): {-closeness:+.2f}")
        return 1.0 - closeness, [reason]

    def _recency(self, insight: Insight) -> tuple[float, list[str]]:
        half_life = self.settings["recency_half_life_days"]
        if not half_life:
            return 1.0, []
        published = _published(insight)
        if published is None:
            return 0.0, ["recency: no publish date"]
        age = max(0.0, (self.now - published).total_seconds() / 86400)
        return 0.5 ** (age / half_life), []

    def _feedback(self, insight: Insight, sims: np.ndarray) -> tuple[float, list[str]]:
        total, reasons = 0.0, []
        topics = {norm(t) for t in insight.get("topics") or []}
        for (rated_id, rating), similarity in zip(self.rated, sims):
            traits = [(1.0 if rated_id == insight["id"] else ramp(float(similarity), RELATED, DUPLICATE),
                       f"similarity {similarity:.2f}")]
            if topics & {norm(t) for t in rating["topics"]}:
                traits.append((AFFINITY["topic"], "shared topic"))
            if insight.get("speaker") and insight.get("speaker") == rating.get("speaker"):
                traits.append((AFFINITY["speaker"], "same speaker"))
            if rating.get("show") and rating.get("show") == (insight.get("episode") or {}).get("show"):
                traits.append((AFFINITY["show"], "same show"))
            affinity, how = max(traits)
            if affinity:
                total += rating["rating"] * affinity
                vote = "up" if rating["rating"] > 0 else "down"
                reasons.append(f"{vote}-voted {rated_id} ({how}): {rating['rating'] * affinity:+.2f}")
        return max(-1.0, min(1.0, total)), reasons
