"""`podbrief rank`, `rate` and `explain` through the CLI, with the real embedding model."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.rank_data import insight, write_brief, write_episodes, write_insights
from typer.testing import CliRunner

from podbrief import related as relation
from podbrief.cli import app
from podbrief.engines import embed
from podbrief.errors import ExitStatus
from podbrief.formats import insights as insight_files
from podbrief.ranking import ratings
from podbrief.ranking.score import DUPLICATE
from podbrief.store import Paths

runner = CliRunner()
HIGH = {"surprise": 0.9, "specificity": 0.9, "actionability": 0.9}


def _spec(id_: str, episode: str, text: str, quality: float, **extra: Any) -> dict[str, Any]:
    published = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
    scores = {name: quality for name in HIGH}
    return insight({"id": id_, "episode": episode, "text": text, "scores": scores, "published": published, **extra})


LIBRARY = [
    _spec("a1", "a001", "Sam Altman says compute, not data, is now the main bottleneck for training frontier AI "
          "models.", 0.9, topics=["ai"], show="Tech Talk", speaker="Sam Altman"),
    _spec("a2", "a001", "Rust's borrow checker eliminated a whole class of memory bugs in the team's networking "
          "code.", 0.4, topics=["programming"], show="Tech Talk"),
    _spec("b1", "b002", "According to Sam Altman, the biggest constraint on training frontier models today is compute "
          "rather than data.", 0.5, topics=["ai"], show="Deep Dive"),
    _spec("b2", "b002", "The guest argues that remote work lowers productivity for junior engineers because they "
          "lose informal mentoring.", 0.8, topics=["work"], show="Deep Dive"),
    _spec("c1", "c003", "The guest says fully remote companies hire from a global talent pool and pay less for "
          "office space.", 0.3, topics=["work"], show="Work Life"),
    _spec("c2", "c003", "Marc Andreessen argues that software will keep eating industries like healthcare and "
          "education.", 0.6, topics=["startups"], show="Work Life", speaker="Marc Andreessen"),
    _spec("d1", "d004", "Marc Andreessen claims that most software startups fail because they never find "
          "product-market fit.", 0.7, topics=["startups"], show="Founders", speaker="Marc Andreessen"),
    _spec("e1", "e005", "[bold red]Sleep[/] debt: naps after 3 pm make insomnia worse, says Dr. Walker.", 0.2,
          topics=["health"], show="[link=http://evil]Health[/link] Cast"),
]


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library's real embeddings, computed once: each test copies them into its fresh home."""
    paths = Paths(tmp_path_factory.mktemp("cache"))
    embedder = embed.default(paths)
    embedder.passages([item["text"] for item in LIBRARY])
    return embed.cache_file(paths)


@pytest.fixture
def library(home: Path, warm_cache: Path) -> Paths:
    paths = Paths(home)
    write_episodes(paths, LIBRARY)
    embed.cache_file(paths).parent.mkdir(parents=True)
    shutil.copy(warm_cache, embed.cache_file(paths))
    return paths


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _ranked(*args: str) -> dict[str, Any]:
    result = _invoke("rank", "--json", "--top", "0", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["insight"]["id"]: item for item in items}


def test_rank_the_data_dir(library: Paths) -> None:
    output = _ranked("--top", "5")
    items = output["items"]
    assert output["problems"] == []
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    assert [item["insight"]["id"] for item in items] == ["a1", "b2", "d1", "c2", "e1"]  # one per episode (variety)
    everything = _ranked()["items"]  # --top 0: all of them; variety gives way
    assert {item["insight"]["id"] for item in everything} >= {"a1", "b2", "d1", "c2", "e1", "a2"}
    ranked = _by_id(items)
    assert ranked["a1"]["duplicates"] == ["b1"]  # its paraphrase from another episode was merged
    assert [r["id"] for r in ranked["b2"]["related"]] == ["c1"]
    assert ranked["b2"]["related"][0]["relation"] >= relation.THRESHOLD
    assert ranked["b2"]["related"][0]["similarity"] < DUPLICATE
    for item in items:
        assert item["score"] == pytest.approx(sum(item["why"].values()), abs=1e-3)
        assert all(r["episode"]["id"] != item["insight"]["episode"]["id"] for r in item["related"])


def _flat(text: str) -> str:
    """Terminal output with the line wrapping undone."""
    return " ".join(text.split())


def test_rank_prints_a_readable_list_without_interpreting_markup(library: Paths) -> None:
    result = _invoke("rank", "--why")
    assert result.exit_code == 0, result.output
    shown = _flat(result.stdout)
    top = _by_id(_ranked()["items"])["a1"]
    assert shown.startswith("1. Sam Altman says compute, not data, is now the main bottleneck")
    assert "Sam Altman · Tech Talk · Episode a001 · 1:00" in shown
    assert f"id a1 · score {top['score']:.2f} · also said in 1 other insight" in shown
    assert f"score {top['score']:.2f} = interest 0.00 · quality 0.90 · novelty 1.00 · recency" in shown  # --why
    assert "↳ The guest says fully remote companies hire from a global talent pool" in shown
    assert "[bold red]Sleep[/] debt" in shown
    assert "[link=http://evil]Health[/link] Cast" in shown


def test_rank_config_interests_and_top(library: Paths, set_config: Callable[..., None]) -> None:
    set_config(rank={"interests": {"startups": 2.0}, "avoid": ["ai"], "top": 2})
    items = _invoke("rank", "--json")
    ids = [item["insight"]["id"] for item in json.loads(items.stdout)["items"]]
    assert ids == ["d1", "c2"]


def test_rank_a_directory_with_bad_files_ranks_the_rest(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "loose"
    write_insights(folder / "one.json", LIBRARY[:2])
    write_insights(folder / "sub" / "two.json", LIBRARY[3:5])
    (folder / "broken.json").write_text('{"schema": "podbrief.insights/1", "insights": [', encoding="utf-8")
    (folder / "foreign.json").write_text('{"schema": "podbrief.transcript/1", "segments": []}', encoding="utf-8")
    write_insights(folder / "no-text.json", [{**LIBRARY[6], "text": ""}])
    (folder / "transcript.json").write_text("skipped: a per-episode file, not an insight file", encoding="utf-8")

    result = _invoke("rank", str(folder), "--top", "0")
    assert result.exit_code == ExitStatus.PARTIAL
    assert "Sam Altman says compute" in result.stdout and "remote work" in result.stdout
    assert f"{folder / 'broken.json'}: not valid JSON" in result.stderr
    assert f"{folder / 'foreign.json'}: not a podbrief insight file (schema 'podbrief.transcript/1'" in result.stderr
    assert f"{folder / 'no-text.json'}: corrupt insight file (insight 1: 'text' must be a non-empty string)" \
        in result.stderr
    assert "transcript.json" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == ("podbrief: error: 3 insight file(s) could not be read "
                                                      "(listed above); the rest were ranked")

    output = json.loads(_invoke("rank", str(folder), "--json", "--top", "3").stdout)
    assert {item["insight"]["id"] for item in output["items"]} == {"a1", "b2", "c1"}
    assert len(output["problems"]) == 3 and all(p["stage"] == "rank" for p in output["problems"])


def test_rank_only_bad_input_is_an_input_error(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    result = _invoke("rank", str(bad))
    assert result.exit_code == ExitStatus.INPUT
    assert result.stderr.strip().endswith(f"{bad}: not a podbrief insight file (schema 'list', "
                                          "expected 'podbrief.insights/1')")
    missing = _invoke("rank", str(tmp_path / "nowhere"))
    assert missing.exit_code == ExitStatus.INPUT
    assert f"{tmp_path / 'nowhere'}: no such file or directory" in missing.stderr


def test_rank_with_nothing_yet(home: Path) -> None:
    result = _invoke("rank")
    assert result.exit_code == 0
    assert result.stdout == "" and "No insight files to rank yet" in result.stderr


def test_delivered_insights_do_not_come_back(library: Paths) -> None:
    today = dt.datetime.now(dt.timezone.utc).astimezone().date()
    write_brief(library, (today - dt.timedelta(days=3)).isoformat(), [LIBRARY[0]])
    write_brief(library, today.isoformat(), [LIBRARY[3]])  # the brief being regenerated: not "delivered"
    ids = {item["insight"]["id"] for item in _ranked()["items"]}
    assert "a1" not in ids and "b1" not in ids  # delivered, and its paraphrase
    assert {"a2", "b2"} <= ids


def test_rate_stores_feedback_that_moves_similar_insights(library: Paths) -> None:
    before = _by_id(_ranked()["items"])["d1"]
    result = _invoke("rate", "c2", "down")
    assert result.exit_code == 0, result.output
    assert "Rated down: Marc Andreessen argues" in result.stderr
    stored = json.loads(library.ratings_file.read_text(encoding="utf-8"))
    assert stored["schema"] == "podbrief.ratings/1"
    assert stored["ratings"]["c2"]["rating"] == -1 and stored["ratings"]["c2"]["topics"] == ["startups"]

    after = _by_id(_ranked()["items"])["d1"]
    assert after["why"]["feedback"] == -0.5  # shares the topic "startups" with the down-voted insight
    assert after["score"] == pytest.approx(before["score"] - 0.5, abs=1e-3)
    assert after["reasons"] == ["down-voted c2 (shared topic): -0.50"]

    assert _invoke("rate", "c2", "up").exit_code == 0  # a new vote replaces the old one
    assert _by_id(_ranked()["items"])["d1"]["why"]["feedback"] == 0.5


def test_concurrent_ratings_are_all_kept(library: Paths) -> None:
    insights = [insight({"id": f"{n:04x}", "episode": "a001", "text": f"Claim number {n}."}) for n in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: ratings.rate(library, item, 1), insights))
    assert set(ratings.load(library)) == {item["id"] for item in insights}


def test_rate_errors(library: Paths) -> None:
    unknown = _invoke("rate", "ffff", "up")
    assert unknown.exit_code == ExitStatus.USAGE and "no insight with id 'ffff'" in unknown.stderr
    ambiguous = _invoke("rate", "a", "up")
    assert ambiguous.exit_code == ExitStatus.USAGE and "ambiguous: a1, a2" in ambiguous.stderr
    assert _invoke("rate", "a1", "sideways").exit_code == ExitStatus.USAGE
    library.ratings_file.write_text('{"a1": 1}', encoding="utf-8")
    corrupt = _invoke("rank")
    assert corrupt.exit_code == ExitStatus.INPUT
    assert f"{library.ratings_file}: corrupt ratings file" in corrupt.stderr
    assert _invoke("rate", "a1", "up").exit_code == ExitStatus.INPUT  # never silently overwritten


def test_explain_shows_the_breakdown_and_fate(library: Paths, set_config: Callable[..., None]) -> None:
    set_config(rank={"interests": {"ai": 1.5}})
    result = _invoke("explain", "a1")
    assert result.exit_code == 0, result.output
    shown = _flat(result.stdout)
    why = json.loads(_invoke("explain", "a1", "--json").stdout)
    assert shown.startswith("Sam Altman says compute")
    assert "id a1 · rank 1" in shown
    assert f"score {why['score']:.2f} = interest 1.50 · quality 0.90 · novelty 1.00 · recency" in shown
    assert "interest 'ai' (topic): +1.50" in shown
    assert "merged near-duplicates: b1" in shown

    merged = json.loads(_invoke("explain", "b1", "--json").stdout)
    assert merged["status"] == "merged into a1: a near-duplicate that ranks higher"
    assert set(merged["why"]) == {"interest", "quality", "novelty", "recency", "feedback", "avoid"}
    capped = json.loads(_invoke("explain", "a2", "--json").stdout)
    assert capped["status"] == "skipped: rank.per_episode = 1 already reached for its episode"


@pytest.mark.parametrize("command", [("rank",), ("explain", "a1")])
def test_each_insight_file_is_read_once(library: Paths, monkeypatch: pytest.MonkeyPatch,
                                        command: tuple[str, ...]) -> None:
    reads: list[Path] = []
    real = insight_files.read
    monkeypatch.setattr(insight_files, "read", lambda path: reads.append(path) or real(path))
    assert _invoke(*command).exit_code == 0
    assert sorted(reads) == sorted(library.episodes_dir.glob("*/insights.json"))


def test_explain_a_delivered_insight(library: Paths) -> None:
    yesterday = (dt.datetime.now(dt.timezone.utc).astimezone().date() - dt.timedelta(days=1)).isoformat()
    write_brief(library, yesterday, [LIBRARY[0]])
    result = json.loads(_invoke("explain", "a1", "--json").stdout)
    assert result["status"] == f"suppressed: already delivered in the brief of {yesterday}"
    paraphrase = json.loads(_invoke("explain", "b1", "--json").stdout)
    assert paraphrase["status"] == "suppressed: a near-duplicate of a delivered insight (see novelty)"
    assert paraphrase["why"]["novelty"] == 0.0
    assert paraphrase["reasons"][0].startswith(f"close to a1, delivered {yesterday} (similarity 0.9")


def test_interest_weights_must_be_numbers(library: Paths, set_config: Callable[..., None]) -> None:
    set_config(rank={"interests": {"ai": "lots"}})
    result = _invoke("rank")
    assert result.exit_code == ExitStatus.CONFIG
    assert "rank.interests: every weight must be a number" in result.stderr
