"""podbrief/related.py: the relation's choices on crafted vectors, and the stance check's thresholds.

Fast logic tests with hand-made unit vectors and a scripted engine; the real model runs in
test_rank_embed.py and benchmarks/related.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from podbrief import related


def _vectors(*cosines: float) -> np.ndarray:
    """Unit rows at these cosines to the first axis (the top item), each leaning off it along an axis of its own,
    so that two rows are as alike as the product of their cosines."""
    rows = np.zeros((len(cosines), len(cosines) + 1), dtype=np.float32)
    for row, cosine in enumerate(cosines):
        rows[row, 0], rows[row, row + 1] = cosine, np.sqrt(1 - cosine ** 2)
    return rows


def _top(width: int) -> np.ndarray:
    return np.eye(width + 1, dtype=np.float32)[0]


def _insight(insight_id: str, episode: str, show: str, topics: list[str] | None = None) -> dict:
    return {"id": insight_id, "text": f"insight {insight_id}", "topics": topics or [],
            "episode": {"id": episode, "show": show}}


def test_topic_overlap_ignores_case_spacing_and_plurals():
    a = _insight("a", "e1", "S", ["RAG", "Evaluations", "open  source"])
    b = _insight("b", "e2", "S", ["rag", "evaluation", "agents"])
    assert related.topic_overlap(a, b) == pytest.approx(2 / 4)
    assert related.topic_overlap(a, _insight("c", "e3", "S")) == 0.0


def test_choose_prefers_other_shows_and_skips_own_episode_duplicates_and_weak_pairs():
    top = _insight("t", "e1", "Show A")
    others = [
        _insight("same-show", "e2", "Show A"),  # cosine 0.90
        _insight("other-show", "e3", "Show B"),  # cosine 0.89: within the same-show penalty, so first
        _insight("own-episode", "e1", "Show A"),  # cosine 0.95: the top item's own episode
        _insight("duplicate", "e4", "Show C"),  # cosine 0.97: the same claim again
        _insight("weak", "e5", "Show C"),  # cosine 0.80, no shared tags: below the threshold
        _insight("twin", "e3", "Show B"),  # cosine 0.88: a second insight of an episode already used
    ]
    vectors = _vectors(0.90, 0.89, 0.95, 0.97, 0.80, 0.88)
    chosen = related.choose(top, _top(6), others, vectors, excluded=set(), limit=3, duplicate=0.93)
    assert [entry["id"] for entry in chosen] == ["other-show", "same-show"]
    assert chosen[0]["similarity"] == pytest.approx(0.89, abs=1e-3)
    assert chosen[0]["relation"] == pytest.approx(0.89, abs=1e-3)


def test_shared_topics_lift_a_pair_over_the_threshold():
    top = _insight("t", "e1", "Show A", ["rag", "evaluation"])
    tagged = _insight("tagged", "e2", "Show B", ["rag", "evaluation"])
    untagged = _insight("untagged", "e3", "Show B", ["hiring"])
    chosen = related.choose(top, _top(2), [tagged, untagged], _vectors(0.70, 0.70), excluded=set(), limit=3,
                            duplicate=0.93)
    assert [entry["id"] for entry in chosen] == ["tagged"]
    assert chosen[0]["relation"] == pytest.approx(0.70 + related.TOPIC_WEIGHT, abs=1e-3)


class ScriptedEngine:
    """P(yes) per stance question, by the word the question starts its test with."""

    def __init__(self, disagrees: float, agrees: float):
        self.answers = {"disagree": disagrees, "agree": agrees}
        self.asked: list[str] = []

    def prompt(self, messages):
        return messages[-1]["content"]

    def yes_probability(self, prompt):
        word = "disagree" if "disagree with statement A" in prompt else "agree"
        self.asked.append(word)
        return self.answers[word]


@pytest.mark.parametrize("disagrees, agrees, expected, asked", [
    (0.75, 0.9, "disagrees", ["disagree"]),  # confident disagreement: the agreement question is not asked
    (0.6, 0.85, "agrees", ["disagree", "agree"]),
    (0.6, 0.7, None, ["disagree", "agree"]),  # neither is confident enough: unmarked
])
def test_stance_is_shown_only_above_its_threshold(disagrees, agrees, expected, asked):
    engine = ScriptedEngine(disagrees, agrees)
    minimum = {"disagrees": 0.7, "agrees": 0.8}
    assert related.stance(engine, "Agents can be trusted.", "Agents are easily hijacked.", minimum) == expected
    assert engine.asked == asked


def test_a_stance_without_a_measured_threshold_is_never_asked():
    engine = ScriptedEngine(0.99, 0.99)
    assert related.stance(engine, "a", "b", {"disagrees": None, "agrees": None}) is None
    assert engine.asked == []


def test_mark_stances_sets_the_field_only_where_confident(monkeypatch):
    monkeypatch.setattr(related, "STANCE_MIN", {"disagrees": 0.7, "agrees": 0.8})
    items = [{"insight": {"text": "Agents can be trusted."},
              "related": [{"text": "Agents are easily hijacked."}, {"text": "Agents need tests."}]}]
    assert related.mark_stances(ScriptedEngine(0.75, 0.1), items) == 2
    assert [entry.get("stance") for entry in items[0]["related"]] == ["disagrees", "disagrees"]
    unsure = [{"insight": {"text": "x"}, "related": [{"text": "y"}]}]
    assert related.mark_stances(ScriptedEngine(0.5, 0.5), unsure) == 0 and "stance" not in unsure[0]["related"][0]
