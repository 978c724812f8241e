"""Benchmark for `podbrief rank`: related-insight grouping, duplicate and interest thresholds, speed.

Prints Markdown tables:
0. The real set (tests/fixtures/related/real/: Practical AI and QMSum insights, pairs labelled by
   reading): precision and recall of "related" on the held-out pairs for the e5 baseline and the
   relation podbrief/related.py uses, each at its calibrated threshold; with --stance MODEL also
   the stance check (accuracy of the labels it would show, and its per-brief cost).
1. Pairwise "related" decisions on the labelled QMSum set (tests/fixtures/related/, built by
   build_related_set.py): precision and recall of each method on the held-out split, each
   at the threshold that maximises F1 on the calibration split (e5 passage is what rank uses,
   at score.RELATED). False positives are split into hard (same meeting, other topic) and
   easy (another domain) negatives.
2. The duplicate threshold (score.DUPLICATE) on crafted paraphrase pairs, and how many
   same-topic QMSum pairs it would wrongly merge.
3. The semantic interest match (score.INTEREST_RAMP) on crafted insight/interest labels.
4. Ranking 1,000 synthetic insights end to end: cold (embedding every text) and warm (cache).

Usage: flock /tmp/podbrief-bench.lock python benchmarks/related.py [--gguf MODEL.gguf] [--stance MODEL]
--gguf adds llama.cpp mean-pooled embeddings from a local GGUF LLM to table 1 (slow: about
1 s per text for Qwen2.5-Coder-0.5B on 2 cores). --stance runs the stance check with an LLM
(a registry name such as qwen2.5-0.5b, or a .gguf) at 1 thread on the 151 related pairs (two
prompts each: about 10 minutes for the 0.5B model on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from podbrief import config as configmod
from podbrief import model_registry, related
from podbrief.engines import embed
from podbrief.ranking import ratings
from podbrief.ranking import score as scoring
from podbrief.stages import rank
from podbrief.store import Paths, atomic_write_json

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "related"
E5 = embed.E5Embedder()
STANCE_CACHE = Path(__file__).resolve().parent / "related" / "stance.json"
STANCE_PRECISION = 0.8  # a stance is shown only at a P(yes) where it was right this often on calibration
LABELS = ("related", "duplicate", "unrelated")
BRIEF = (5, 3)  # rank.top x rank.related: the related entries a brief can hold, for the per-brief cost


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# --- 0. the real set ----------------------------------------------------------------------


def real_pairs() -> tuple[dict[str, dict], list[dict]]:
    """The real set's insights by key, and its labelled pairs with their e5 cosine and topic overlap."""
    insights = {i["key"]: i for i in load("real/insights")["insights"]}
    keys = list(insights)
    vectors = dict(zip(keys, E5.passages([insights[k]["text"] for k in keys])))
    pairs = load("real/pairs")["pairs"]
    for pair in pairs:
        a, b = insights[pair["a"]], insights[pair["b"]]
        pair["cosine"] = float(vectors[pair["a"]] @ vectors[pair["b"]])
        pair["overlap"] = related.topic_overlap(a, b)
        pair["same_show"] = a["episode"]["show"] == b["episode"]["show"]
    return insights, pairs


def _split(pairs: list[dict], name: str, score: Callable[[dict], float]) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    chosen = [p for p in pairs if p["split"] == name]
    return (np.array([score(p) for p in chosen]), np.array([int(p["label"] == "related") for p in chosen]), chosen)


def agreement_table(pairs: list[dict]) -> None:
    """How the independent reader's labels (the ones measured against) compare with the set author's."""
    both = Counter((p["author_label"], p["label"]) for p in pairs)
    agree = sum(n for (a, b), n in both.items() if a == b) / len(pairs)
    chance = sum(sum(n for (a, _), n in both.items() if a == label) * sum(n for (_, b), n in both.items() if b == label)
                 for label in {b for _, b in both}) / len(pairs) ** 2
    print(f"## The two labellings ({len(pairs)} pairs): agreement {agree:.0%}, Cohen's kappa "
          f"{(agree - chance) / (1 - chance):.2f}\n")
    print("| author \\ independent reader | " + " | ".join(LABELS) + " |")
    print("|---|" + "---|" * len(LABELS))
    for a in LABELS:
        print(f"| {a} | " + " | ".join(str(both[a, b]) for b in LABELS) + " |")
    stances = Counter((p.get("author_stance"), p.get("stance")) for p in pairs
                      if p["label"] == p["author_label"] == "related")
    print(f"\nStance, on the {sum(stances.values())} pairs both call related: the same for "
          f"{sum(n for (a, b), n in stances.items() if a == b)}; "
          + ", ".join(f"{n} {a} -> {b}" for (a, b), n in stances.most_common() if a != b) + ".\n")


def real_related_table(pairs: list[dict]) -> None:
    held = [p for p in pairs if p["split"] == "heldout"]
    positives = [p for p in held if p["label"] == "related"]
    print(f"## Related on the real set (held-out: {len(held)} pairs, {len(positives)} related of which "
          f"{sum(not p['same_show'] for p in positives)} across shows; "
          f"{sum(p['label'] == 'unrelated' and p['same_show'] for p in held)} hard negatives from the same show)\n")
    print("| method | threshold | precision | recall | F1 | false pos. same show | false pos. other show |")
    print("|---|---|---|---|---|---|---|")
    shipped = f"e5 + {related.TOPIC_WEIGHT} x topic overlap (podbrief/related.py)"
    methods: list[tuple[str, Callable[[dict], float], float | None]] = [
        ("e5 cosine (baseline), calibrated", lambda p: p["cosine"], None),
        ("e5 cosine at score.RELATED (before)", lambda p: p["cosine"], scoring.RELATED),
        ("topic overlap alone, calibrated", lambda p: p["overlap"], None),
        *[(f"e5 + {w} x topic overlap, calibrated", lambda p, w=w: p["cosine"] + w * p["overlap"], None)
          for w in (0.1, 0.2)],
        (shipped, lambda p: p["cosine"] + related.TOPIC_WEIGHT * p["overlap"], related.THRESHOLD),
    ]
    for name, score, threshold in methods:
        if threshold is None:
            threshold = best_threshold(*_split(pairs, "calibration", score)[:2])
        scores, labels, chosen = _split(pairs, "heldout", score)
        precision, recall = precision_recall(scores, labels, threshold)
        wrong = [p for p, s, y in zip(chosen, scores, labels) if s >= threshold and not y]
        print(f"| {name} | {threshold:.3f} | {precision:.2f} | {recall:.2f} | {f1(precision, recall):.2f} "
              f"| {sum(p['same_show'] for p in wrong)} | {sum(not p['same_show'] for p in wrong)} |")
    print()


def shown_table(insights: dict[str, dict], pairs: list[dict]) -> None:
    """What a reader would see: every insight of the set as a top item, with up to BRIEF[1] related insights
    chosen from all the others (podbrief/related.py's choice rules), judged by the labels (pooled pairs included)."""
    keys = list(insights)
    others = [insights[k] for k in keys]
    vectors = E5.passages([i["text"] for i in others])
    labels = {frozenset((p["a"], p["b"])): p["label"] for p in pairs}
    print(f"## Related insights as shown: each of the {len(keys)} insights as a top item, up to {BRIEF[1]} related "
          f"from the rest\n")
    print("| method | shown | judged related | judged unrelated | unjudged | precision | top items with any |")
    print("|---|---|---|---|---|---|---|")
    baseline = best_threshold(*_split(pairs, "calibration", lambda p: p["cosine"])[:2])
    for name, weight, threshold in (("e5 cosine (baseline), calibrated", 0.0, baseline),
                                    ("e5 cosine at score.RELATED (before)", 0.0, scoring.RELATED),
                                    ("podbrief/related.py", related.TOPIC_WEIGHT, related.THRESHOLD)):
        verdicts, with_any = [], 0
        for row, key in enumerate(keys):
            chosen = related.choose(others[row], vectors[row], others, vectors, set(), BRIEF[1], scoring.DUPLICATE,
                                    weight, threshold)
            with_any += bool(chosen)
            verdicts += [labels.get(frozenset((key, entry["key"])), "unjudged") for entry in chosen]
        judged = [v for v in verdicts if v != "unjudged"]
        precision = f"{judged.count('related') / len(judged):.2f}" if judged else "-"
        print(f"| {name} | {len(verdicts)} | {judged.count('related')} | {judged.count('unrelated')} "
              f"| {verdicts.count('unjudged')} | {precision} | {with_any} |")
    print()


def stance_probabilities(insights: dict[str, dict], pairs: list[dict], model: str) -> dict[str, dict[str, float]]:
    """The stance check's P(yes) per label for every pair some labelling calls related, cached in
    STANCE_CACHE (keyed by pair and model) so a new labelling is scored without asking the model again."""
    from podbrief.engines.llm import LLM

    cache_file = STANCE_CACHE.with_name(f"{STANCE_CACHE.stem}-{Path(model).name.removesuffix('.gguf')}.json")
    cache = json.loads(cache_file.read_text(encoding="utf-8")) if cache_file.exists() else {}
    wanted = [p for p in pairs if "related" in (p["label"], p.get("author_label")) and p["pair"] not in cache]
    if wanted:
        with tempfile.TemporaryDirectory() as home:
            paths = Paths(Path(home))
            engine = LLM(model_registry.resolve("llm", model, paths), paths, threads=2, context_size=1024)
            for n, pair in enumerate(wanted, 1):
                a, b = insights[pair["a"]]["text"], insights[pair["b"]]["text"]
                cache[pair["pair"]] = {label: related.stance_probability(engine, a, b, label)
                                       for label in related.STANCES}
                if n % 10 == 0 or n == len(wanted):
                    cache["_cost"] = {"model": engine.name, "prompts": engine.usage.calls,
                                      "seconds": engine.usage.seconds, "prompt_tokens": engine.usage.prompt_tokens}
                    atomic_write_json(cache_file, cache)
    return cache


def stance_table(insights: dict[str, dict], pairs: list[dict], model: str) -> None:
    """The stance check on every related pair: the P(yes) threshold per label from the calibration pairs,
    the accuracy of the labels it would show on the held-out ones, and the cost per brief."""
    probabilities = stance_probabilities(insights, pairs, model)
    cost = probabilities.get("_cost") or {"model": model, "prompts": 0, "seconds": 0.0, "prompt_tokens": 0}
    ranked = [p for p in pairs if p["label"] == "related"]
    print(f"## Stance check ({cost['model']}, 2 threads; shown at the lowest P(yes) that was right >= "
          f"{STANCE_PRECISION:.0%} on calibration)\n")
    print("| stance | labelled (held-out) | threshold | shown | right | accuracy of shown | recall |")
    print("|---|---|---|---|---|---|---|")
    for label in related.STANCES:
        scored = [(probabilities[p["pair"]][label], p["stance"] == label, p["split"]) for p in ranked]
        calibration = [(s, right) for s, right, split in scored if split == "calibration"]
        threshold = next((t for t, _ in sorted(calibration) if _precision_at(calibration, t) >= STANCE_PRECISION
                          and sum(1 for s, _ in calibration if s >= t) >= 3), None)
        held = [(s, right) for s, right, split in scored if split == "heldout"]
        truth = sum(1 for _, right in held if right)
        if threshold is None:
            best = max((_precision_at(calibration, t), t) for t, _ in calibration) if calibration else (0.0, 0.0)
            print(f"| {label} | {truth} | none reaches it (best {best[0]:.2f} at {best[1]:.3f}) | 0 | 0 | - | 0.00 |")
            continue
        shown = [right for s, right in held if s >= threshold]
        accuracy = f"{sum(shown) / len(shown):.2f}" if shown else "-"
        print(f"| {label} | {truth} | {threshold:.3f} | {len(shown)} | {sum(shown)} | {accuracy} "
              f"| {sum(shown) / max(truth, 1):.2f} |")
    per_prompt = cost["seconds"] / max(cost["prompts"], 1)
    prompts = 2 * BRIEF[0] * BRIEF[1]
    print(f"\nCost: {per_prompt:.2f} s per prompt ({cost['prompt_tokens'] / max(cost['prompts'], 1):.0f} "
          f"prompt tokens); a brief of {BRIEF[0]} items x {BRIEF[1]} related asks at most {prompts} prompts, "
          f"about {prompts * per_prompt:.0f} s.\n")


def _precision_at(scored: list[tuple[float, bool]], threshold: float) -> float:
    shown = [right for s, right in scored if s >= threshold]
    return sum(shown) / len(shown) if shown else 0.0


# --- 1. related grouping ---------------------------------------------------------------


def pair_labels(items: list[dict]) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Upper-triangle pairs: label 1 related, 0 unrelated, -1 unlabelled; and whether same meeting."""
    n = len(items)
    meeting = np.array([i["meeting"] for i in items])
    topic = np.array([i["topic"] for i in items])
    domain = np.array([i["domain"] for i in items])
    same_meeting = meeting[:, None] == meeting[None, :]
    labels = np.where(same_meeting, (topic[:, None] == topic[None, :]).astype(int),
                      np.where(domain[:, None] != domain[None, :], 0, -1))
    upper = np.triu_indices(n, 1)
    return labels[upper], same_meeting[upper], upper


def tfidf(texts: list[str]) -> np.ndarray:
    words = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
    vocabulary = {w: i for i, w in enumerate(sorted({w for ws in words for w in ws}))}
    counts = np.zeros((len(texts), len(vocabulary)))
    for row, ws in enumerate(words):
        for w in ws:
            counts[row, vocabulary[w]] += 1
    idf = np.log((1 + len(texts)) / (1 + (counts > 0).sum(0))) + 1
    weighted = np.log1p(counts) * idf
    weighted /= np.linalg.norm(weighted, axis=1, keepdims=True)
    return weighted @ weighted.T


def cosines(vectors: np.ndarray) -> np.ndarray:
    return vectors @ vectors.T


METHODS: dict[str, Callable[[list[str]], np.ndarray]] = {
    "e5 passage (rank uses this)": lambda t: cosines(E5.passages(t)),
    "e5 query prefix": lambda t: cosines(E5.queries(t)),
    "TF-IDF cosine": tfidf,
    "rapidfuzz token_set_ratio": lambda t: cdist(t, t, scorer=fuzz.token_set_ratio) / 100,
    "e5 passage + 0.25 TF-IDF": lambda t: cosines(E5.passages(t)) + 0.25 * tfidf(t),
}


def gguf_similarity(path: str) -> Callable[[list[str]], np.ndarray]:
    from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

    llm = Llama(model_path=path, embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, n_ctx=512, verbose=False)

    def similarity(texts: list[str]) -> np.ndarray:
        vectors = np.array([llm.embed(text) for text in texts], dtype=np.float32)
        return cosines(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))

    return similarity


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    predicted = scores >= threshold
    hits = int((predicted & (labels == 1)).sum())
    return hits / max(int(predicted.sum()), 1), hits / max(int((labels == 1).sum()), 1)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    candidates = np.unique(np.round(scores, 3))
    return float(max(candidates, key=lambda t: f1(*precision_recall(scores, labels, t))))


def related_table() -> None:
    splits = {}
    for name in ("calibration", "heldout"):
        items = load(name)["items"]
        labels, same, upper = pair_labels(items)
        splits[name] = (items, labels, same, upper)
    _, labels, same, _ = splits["heldout"]
    print(f"## Related grouping (held-out: {len(splits['heldout'][0])} insights, {int((labels == 1).sum())} related "
          f"pairs, {int((labels == 0).sum())} unrelated pairs of which {int(((labels == 0) & same).sum())} hard)\n")
    print("| method | threshold (best F1 on calibration) | precision | recall | F1 | false pos. hard | false pos. easy |")
    print("|---|---|---|---|---|---|---|")
    for method, similarity in METHODS.items():
        scored = {}
        for name, (items, labels, same, upper) in splits.items():
            scores = similarity([i["text"] for i in items])[upper]
            known = labels >= 0
            scored[name] = (scores[known], labels[known], same[known])
        threshold = best_threshold(*scored["calibration"][:2])
        rows = [(method, threshold)]
        if method.startswith("e5 passage (") and abs(threshold - scoring.RELATED) > 1e-9:
            rows.append(("e5 passage at score.RELATED", scoring.RELATED))
        for label, cut in rows:
            scores, labels, same = scored["heldout"]
            precision, recall = precision_recall(scores, labels, cut)
            wrong = (scores >= cut) & (labels == 0)
            print(f"| {label} | {cut:.3f} | {precision:.2f} | {recall:.2f} | {f1(precision, recall):.2f} "
                  f"| {int((wrong & same).sum())} | {int((wrong & ~same).sum())} |")
    print()


# --- 2. duplicates ------------------------------------------------------------------------


def duplicate_table() -> None:
    pairs = load("duplicates")["pairs"]
    a = E5.passages([p["a"] for p in pairs])
    b = E5.passages([p["b"] for p in pairs])
    sims = (a * b).sum(1)
    duplicate = np.array([p["label"] == "duplicate" for p in pairs])
    merged = sims >= scoring.DUPLICATE
    items = load("heldout")["items"]
    labels, _, upper = pair_labels(items)
    vectors = E5.passages([i["text"] for i in items])
    same_topic = (vectors @ vectors.T)[upper][labels == 1]
    print(f"## Duplicates at score.DUPLICATE = {scoring.DUPLICATE}\n")
    print("| set | pairs | merged | similarity range |")
    print("|---|---|---|---|")
    for name, mask in (("paraphrases (should merge)", duplicate), ("same theme, other claim (must not)", ~duplicate)):
        print(f"| {name} | {int(mask.sum())} | {int((merged & mask).sum())} | {sims[mask].min():.3f}-{sims[mask].max():.3f} |")
    print(f"| QMSum same-topic answers (must not) | {len(same_topic)} | {int((same_topic >= scoring.DUPLICATE).sum())} "
          f"| {same_topic.min():.3f}-{same_topic.max():.3f} |\n")


# --- 3. interests -------------------------------------------------------------------------


def interest_table() -> None:
    data = load("interests")
    terms = data["interests"]
    sims = E5.passages([i["text"] for i in data["items"]]) @ E5.queries(terms).T
    about = np.array([[term in item["about"] for term in terms] for item in data["items"]])
    credit = np.array([[scoring.SEMANTIC_CREDIT * scoring.ramp(float(s), *scoring.INTEREST_RAMP) for s in row] for row in sims])
    print(f"## Semantic interest match at score.INTEREST_RAMP = {scoring.INTEREST_RAMP} (topic/keyword matches aside)\n")
    print("| pairs | count | similarity mean | got some credit | mean credit |")
    print("|---|---|---|---|---|")
    for name, mask in (("insight is about the interest", about), ("insight is not", ~about)):
        print(f"| {name} | {int(mask.sum())} | {sims[mask].mean():.3f} | {int((credit[mask] > 0).sum())} "
              f"| {credit[mask].mean():.3f} |")
    print()


# --- 4. speed -------------------------------------------------------------------------------

WORDS = {
    "who": ["the host", "the guest", "Dr. Lee", "Maria Costa", "an economist", "the founder", "a nurse", "the coach"],
    "verb": ["argues", "predicts", "claims", "warns", "estimates", "reports", "explains", "doubts"],
    "subject": ["battery prices", "remote work", "open-source models", "interest rates", "sleep quality",
                "city transit", "school funding", "crop yields", "chip exports", "housing supply", "ocean heat",
                "vaccine uptake", "ad revenue", "rail freight", "drug pricing", "wage growth"],
    "change": ["will fall", "will double", "has stalled", "rose sharply", "depends mostly on", "is overstated by",
               "lags behind", "is driven by"],
    "cause": ["regulation", "new tariffs", "cheap solar", "an ageing workforce", "better sensors", "tax credits",
              "weak demand", "consolidation", "local politics", "a data shortage", "faster chips"],
    "when": ["by 2030", "within five years", "this decade", "since the pandemic", "in most OECD countries",
             "in rural areas", "for small firms", "in the last quarter"],
}
TOPICS = ["ai", "energy", "economics", "health", "politics", "climate", "education", "transport", "sports", "media"]


def synthetic_insights(count: int, now: dt.datetime) -> list[dict]:
    rng = random.Random(7)
    insights = []
    for n in range(count):
        episode = f"{n // 10:04x}"
        text = (f"{rng.choice(WORDS['who']).capitalize()} {rng.choice(WORDS['verb'])} that "
                f"{rng.choice(WORDS['subject'])} {rng.choice(WORDS['change'])} {rng.choice(WORDS['cause'])} "
                f"{rng.choice(WORDS['when'])} (point {n}).")
        insights.append({
            "id": f"{n:016x}", "text": text, "speaker": rng.choice(WORDS["who"]), "kind": "claim",
            "quote": {"text": text, "start": 10.0 * n, "end": 10.0 * n + 8, "link": None},
            "topics": rng.sample(TOPICS, 2),
            "scores": {k: round(rng.random(), 2) for k in ("surprise", "specificity", "actionability")},
            "episode": {"id": episode, "title": f"Episode {episode}", "show": f"Show {n % 20}",
                        "published": (now - dt.timedelta(hours=rng.randrange(24 * 30))).isoformat()},
        })
    return insights


def speed_table(count: int = 1000) -> None:
    now = dt.datetime(2026, 11, 25, 7, tzinfo=dt.timezone.utc)
    insights = synthetic_insights(count, now)
    config = configmod.merge(configmod.defaults(), {"rank": {
        "interests": {"ai": 2.0, "climate": 1.0, "wage growth": 1.0}, "avoid": ["sports"]}})
    print(f"## Ranking {count} synthetic insights (100 episodes, 20 shows, 5 delivered, 10 ratings)\n")
    print("| run | embedded at extract time (s) | rank (s) | top items | related shown |")
    print("|---|---|---|---|---|")
    for at_extract in (False, True):
        with tempfile.TemporaryDirectory() as home:
            paths = _speed_home(Path(home), insights)
            extract_seconds = "-"
            if at_extract:  # what stages/extract.run_pending does with the insights it writes
                start = time.perf_counter()
                embed.default(paths).passages([i["text"] for i in insights])
                extract_seconds = f"{time.perf_counter() - start:.2f}"
            runs = ("first rank, insights embedded by extract",) if at_extract else (
                "cold (rank embeds every text)", "warm (embedding cache)")
            for label in runs:
                start = time.perf_counter()
                items = rank.rank(insights, config, paths, now)
                seconds = time.perf_counter() - start
                print(f"| {label} | {extract_seconds} | {seconds:.2f} | {len(items)} "
                      f"| {sum(len(i['related']) for i in items)} |")
    print()


def _speed_home(home: Path, insights: list[dict]) -> Paths:
    """A data dir with 10 ratings and one earlier brief of 5 of the insights."""
    paths = Paths(home)
    for insight in insights[:10]:
        ratings.rate(paths, insight, 1 if int(insight["id"], 16) % 2 else -1)
    brief = {"schema": "podbrief.brief/1", "date": "2026-11-24", "created": "2026-11-24T07:00:00Z",
             "window": {"since": "2026-11-23T07:00:00Z", "until": "2026-11-24T07:00:00Z"}, "episodes": 1,
             "items": [{"rank": r, "score": 1.0, "insight": i, "why": {}, "related": []}
                       for r, i in enumerate(insights[10:15], 1)], "problems": [], "remaining": {}}
    atomic_write_json(paths.briefs_dir / "2026-11-24.json", brief)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", help="also measure llama.cpp embeddings of this GGUF model")
    parser.add_argument("--stance", help="also measure the stance check with this LLM (slow)")
    arguments = parser.parse_args()
    if arguments.gguf:
        METHODS[f"llama.cpp mean pooling ({Path(arguments.gguf).stem})"] = gguf_similarity(arguments.gguf)
    real_insights, labelled = real_pairs()
    agreement_table(labelled)
    real_related_table(labelled)
    shown_table(real_insights, labelled)
    if arguments.stance:
        stance_table(real_insights, labelled, arguments.stance)
    related_table()
    duplicate_table()
    interest_table()
    speed_table()
