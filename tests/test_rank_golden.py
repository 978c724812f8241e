"""Golden tests for ranking: crafted insight sets in tests/fixtures/rank/*.json, each beside its expected
ranking (`<case>.json.expected.json`, tests/support/golden.py).

These exercise the scoring, novelty, merging and caps, not the embedding model, so they use a
deterministic bag-of-words embedder: identical texts are identical vectors (cosine 1), texts
without shared words are near-orthogonal. The real model is tested in test_rank_embed.py.

A case file holds: `config` (the rank section), optional `now`, `insights` (compact: id,
episode, text, and optionally show, speaker, topics, scores, published), optional `briefs`
(stored briefs: a date, the ids of delivered insights and extra delivered `texts`),
and optional `ratings` ({id: +1|-1}). Its expected file holds `top` (ids, best first), and optionally
`why`, `status`, `duplicates`, `related` and `earlier` (ids, in order) of chosen insights.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.golden import expected_path, is_expected
from support.rank_data import NOW, insight, write_brief

from podbrief import config as configmod
from podbrief.ranking import ratings
from podbrief.ranking.select import Ranking, ranking
from podbrief.store import Paths

RANK = Path(__file__).parent / "fixtures" / "rank"
CASES = sorted(p for p in RANK.glob("*.json") if not is_expected(p))


class BagOfWords:
    """Each word is a fixed pseudo-random direction; a text is the normalised sum of its words."""

    def _vector(self, text: str) -> np.ndarray:
        total = np.zeros(64)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
            total += np.random.default_rng(seed).standard_normal(64)
        norm = np.linalg.norm(total)
        return (total / norm if norm else total).astype(np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), 64)

    queries = passages


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _setup(case: dict[str, Any], home: Path) -> tuple[list[dict[str, Any]], Paths]:
    """Write the case's stored briefs and ratings into a fresh data dir; return its insights."""
    paths = Paths(home)
    now = case.get("now", NOW)
    insights = [insight(spec, now) for spec in case["insights"]]
    by_id = {item["id"]: item for item in insights}
    for stored in case.get("briefs", []):
        extra = [insight({"id": i, "episode": "old", "text": t}, now) for i, t in stored.get("texts", {}).items()]
        write_brief(paths, stored["date"], [by_id[i] for i in stored["ids"]] + extra)
    for insight_id, vote in case.get("ratings", {}).items():
        ratings.rate(paths, by_id[insight_id], vote)
    return insights, paths


def _run(case: dict[str, Any], insights: list[dict[str, Any]], paths: Paths) -> Ranking:
    config = configmod.merge(configmod.defaults(), {"rank": case["config"]})
    now = _parse(case.get("now", NOW))
    return ranking(insights, config, paths, now, embedder=BagOfWords(), date=now.date())


@pytest.mark.parametrize("case_file", CASES, ids=[p.stem for p in CASES])
def test_golden(case_file: Path, tmp_path: Path) -> None:
    case = json.loads(case_file.read_text(encoding="utf-8"))
    expected = json.loads(expected_path(case_file).read_text(encoding="utf-8"))
    insights, paths = _setup(case, tmp_path)
    result = _run(case, insights, paths)

    assert [entry.id for entry in result.top] == expected["top"], case["description"]
    assert [entry.rank for entry in result.top] == list(range(1, len(result.top) + 1))
    for insight_id, why in expected.get("why", {}).items():
        assert result.entries[insight_id].why == pytest.approx(why, abs=1e-4)
        assert result.entries[insight_id].score == pytest.approx(sum(why.values()), abs=1e-3)
    for insight_id, status in expected.get("status", {}).items():
        assert result.entries[insight_id].status == status
    for insight_id, duplicates in expected.get("duplicates", {}).items():
        assert result.entries[insight_id].duplicates == duplicates
    for insight_id, related in expected.get("related", {}).items():
        assert [r["id"] for r in result.entries[insight_id].related] == related
    for insight_id, earlier in expected.get("earlier", {}).items():
        assert [link["id"] for link in result.entries[insight_id].earlier] == earlier
    # The order never depends on the order of the input files.
    again = _run(case, insights[::-1], paths)
    assert [entry.id for entry in again.top] == expected["top"]


def test_every_golden_case_is_checked() -> None:
    assert {p.stem for p in CASES} >= {"interests", "avoid", "feedback", "novelty", "diversity", "fill", "ties",
                                        "duplicates", "recency", "related", "threads"}


def test_score_is_the_sum_of_its_parts(tmp_path: Path) -> None:
    case = json.loads((RANK / "feedback.json").read_text(encoding="utf-8"))
    insights, paths = _setup(case, tmp_path)
    for entry in _run(case, insights, paths).entries.values():
        assert set(entry.why) == {"interest", "quality", "novelty", "recency", "feedback", "avoid"}
        assert entry.score == pytest.approx(sum(entry.why.values()), abs=1e-3)


def test_feedback_reasons_name_the_rated_insight(tmp_path: Path) -> None:
    case = json.loads((RANK / "feedback.json").read_text(encoding="utf-8"))
    insights, paths = _setup(case, tmp_path)
    entries = _run(case, insights, paths).entries
    assert entries["c1"].reasons == ["up-voted fa (shared topic): +0.50"]
    assert entries["c2"].reasons == ["down-voted fc (same show): -0.20"]


def test_quality_reads_specificity_the_verifier_and_whether_the_speaker_is_named():
    """The blind judgements (benchmarks/rankfeatures.py): surprise and actionability did not predict what readers
    judged faithful or good, so a confident piece of advice no longer outranks a specific, attributed one."""
    from podbrief.ranking.score import Scorer

    pitch = {"speaker": "Nestor Maslej", "text": "Businesses should use generative models for different purposes.",
             "scores": {"surprise": 0.2, "specificity": 0.95, "actionability": 0.8, "faithful": 0.87}}
    attributed = {"speaker": "Hon. Ben Lobb", "text": "Carbon tax was $500 of a $2,400 gas bill, Lobb says.",
                  "scores": {"surprise": 0.2, "specificity": 0.7, "actionability": 0.1, "faithful": 0.8}}
    (low, why), (high, none) = Scorer._quality(pitch), Scorer._quality(attributed)
    assert high == pytest.approx((0.7 + 0.8 + 1) / 3) and low == pytest.approx((0.95 + 0.87) / 3) and high > low
    assert why == ["quality: the text does not name its speaker 'Nestor Maslej' (mean of specificity 0.95, "
                   "faithful 0.87, named 0.00)"] and none == []
    older = {"speaker": "the host", "text": "x", "scores": {"surprise": 0.9, "specificity": 0.5, "actionability": 0.9}}
    assert Scorer._quality(older) == (0.5, [])  # no verifier score: specificity alone; no name part for "the host"
    each = {**attributed, "scores": {**attributed["scores"], "faithful_each": 0.5}}  # one sentence it doubts
    assert Scorer._quality(each) == (pytest.approx((0.7 + 0.5 + 1) / 3), [])  # the per-sentence check wins
