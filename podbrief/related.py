"""Related insights: which insights of other episodes share a top item's theme, and how they stand to it.

The relation is calibrated on tests/fixtures/related/real/ (real insights, pairs labelled by
reading; benchmarks/related.py measures it, docs/related.md has the tables):

  score = e5 cosine of the texts + TOPIC_WEIGHT x Jaccard overlap of the topic tags

and a pair is related at score >= THRESHOLD. A top item takes the best-scoring candidates,
at most one per episode, preferring other shows (SAME_SHOW_PENALTY on the order), never the
same claim again (cosine >= `duplicate`).

Stance ("agrees", "disagrees") is a second stage, on the few related entries of the brief's
finalists only (so its cost is per brief): the LLM is asked whether the related insight
disagrees with the item, then whether it agrees, and the label is set only when P(yes)
clears the threshold that was right often enough on the labelled pairs; otherwise the entry
stays unmarked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # types only: briefs.py renders through render.py, which reads STANCES here
    from podbrief.briefs import BriefItem, DeliveredItem, EarlierLink, RelatedInsight
    from podbrief.formats.insights import Insight

TOPIC_WEIGHT = 0.3  # where calibration F1 levels off (0.83; benchmarks/related.py, docs/related.md)
THRESHOLD = 0.88  # best F1 on the calibration pairs at TOPIC_WEIGHT
SAME_SHOW_PENALTY = 0.02  # orders candidates from other shows first when they score about as well
STANCES = ("disagrees", "agrees")
# P(yes) a stance needs before it is shown; None: never shown (not accurate enough when measured).
STANCE_MIN: dict[str, float | None] = {"disagrees": None, "agrees": None}
STANCE_SYSTEM = "You compare two short statements from podcasts and answer only Yes or No."
STANCE_QUESTION = {
    "disagrees": "Does statement B disagree with statement A: does it contradict A or argue against A's claim?",
    "agrees": "Does statement B agree with statement A: does it support or reinforce A's claim?",
}


class Engine(Protocol):
    def prompt(self, messages: Sequence[dict[str, str]]) -> str: ...

    def yes_probability(self, prompt: str) -> float: ...


def _tags(insight: Insight) -> set[str]:
    """Topic tags compared loosely: case, spacing and a plural 's' do not matter."""
    return {" ".join(str(tag).casefold().split()).removesuffix("s") for tag in insight.get("topics") or []}


def topic_overlap(a: Insight, b: Insight) -> float:
    """Jaccard overlap of two insights' topic tags (0 when either has none)."""
    tags_a, tags_b = _tags(a), _tags(b)
    return len(tags_a & tags_b) / len(tags_a | tags_b) if tags_a and tags_b else 0.0


def scores(insight: Insight, vector: np.ndarray, others: Sequence[Insight],
           vectors: np.ndarray, weight: float = TOPIC_WEIGHT) -> np.ndarray:
    """The relation score of `insight` against each of `others` (rows of `vectors`)."""
    overlap = np.array([topic_overlap(insight, other) for other in others], dtype=np.float32)
    return vectors @ vector + weight * overlap


def choose(insight: Insight, vector: np.ndarray, others: Sequence[Insight], vectors: np.ndarray,
           excluded: set[str], limit: int, duplicate: float, weight: float = TOPIC_WEIGHT,
           threshold: float = THRESHOLD) -> list[RelatedInsight]:
    """Up to `limit` related entries for `insight`: others at score >= `threshold` from other episodes, one per
    episode, other shows first, none the same claim as `insight` or as an entry already chosen. (`weight` and
    `threshold` are parameters for the benchmark's baselines.)"""
    similarity = vectors @ vector
    related = scores(insight, vector, others, vectors, weight)
    show = (insight.get("episode") or {}).get("show")
    order_key = related - SAME_SHOW_PENALTY * np.array([(o.get("episode") or {}).get("show") == show for o in others])
    rows = sorted(np.nonzero(related >= threshold)[0].tolist(), key=lambda r: (-order_key[r], others[r]["id"]))
    episodes = {insight["episode"]["id"]}
    chosen: list[int] = []
    for row in rows:
        other = others[row]
        if other["id"] in excluded or other["episode"]["id"] in episodes:
            continue
        if similarity[row] >= duplicate or any(vectors[row] @ vectors[c] >= duplicate for c in chosen):
            continue  # the same claim again is not a related insight
        chosen.append(row)
        episodes.add(other["episode"]["id"])
        if len(chosen) == limit:
            break
    return [{**others[r], "similarity": round(float(similarity[r]), 3), "relation": round(float(related[r]), 3)}
            for r in chosen]


def earlier(insight: Insight, vector: np.ndarray, shown: Sequence[DeliveredItem], shown_vectors: np.ndarray,
            limit: int = 1) -> list[EarlierLink]:
    """The thread of `insight` back in time: up to `limit` items of earlier briefs (`shown`, each with its brief's
    `date`) on the same theme, best first, as {id, text, speaker, show, date}. They are links only: what was
    delivered stays suppressed as a top item (rank's novelty and delivered checks)."""
    if not len(shown):
        return []
    theirs = [item["insight"] for item in shown]
    relation = scores(insight, vector, theirs, shown_vectors)
    rows = sorted((r for r in np.nonzero(relation >= THRESHOLD)[0].tolist() if theirs[r]["id"] != insight["id"]),
                  key=lambda r: (-relation[r], shown[r]["date"]))
    return [{"id": theirs[r]["id"], "text": theirs[r]["text"], "speaker": theirs[r].get("speaker"),
             "show": (theirs[r].get("episode") or {}).get("show"), "date": shown[r]["date"]} for r in rows[:limit]]


def stance_probability(engine: Engine, text: str, other: str, stance: str) -> float:
    """The model's P(yes) that `other` (statement B) has `stance` towards `text` (statement A)."""
    from podbrief.extraction.untrusted import neutralize

    question = f"Statement A: \"{neutralize(text)}\"\nStatement B: \"{neutralize(other)}\"\n" \
               f"{STANCE_QUESTION[stance]} Answer Yes or No."
    return engine.yes_probability(engine.prompt([{"role": "system", "content": STANCE_SYSTEM},
                                                 {"role": "user", "content": question}]))


def stance(engine: Engine, text: str, other: str, minimum: dict[str, float | None] | None = None) -> str | None:
    """The stance of `other` towards `text` when the model is confident enough (P(yes) >= `minimum`,
    default STANCE_MIN), else None."""
    for label in STANCES:
        threshold = (minimum or STANCE_MIN)[label]
        if threshold is not None and stance_probability(engine, text, other, label) >= threshold:
            return label
    return None


def mark_stances(engine: Engine, items: list[BriefItem]) -> int:
    """Set `stance` on the related entries of brief `items` where the check is confident; how many were set."""
    marked = 0
    for item in items:
        for entry in item.get("related") or []:
            label = stance(engine, item["insight"]["text"], entry["text"])
            if label:
                entry["stance"] = label
                marked += 1
    return marked
