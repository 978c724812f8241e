"""Which rank-time features predict what blind readers judged (benchmarks/quality/judged/), no model needed.

    python benchmarks/rankfeatures.py            # the feature table, the meta-sentence split, the score comparison
    python benchmarks/rankfeatures.py --measure-each   # first ask Qwen 1.5B the per-sentence check (~20 min)

Each judged insight is joined to its saved run (benchmarks/quality/runs/) through the blind list's key. For
every feature the brief's score could use, the AUC against judged F (0.5 = no signal, above = higher means
more often faithful) and Spearman's rho against judged G, per new-design variant and pooled. Then candidate
quality scores: their AUC/rho pooled and leave-one-episode-out, and the judged F and G of the brief a day of
the five episodes would get from new-1.5b's insights (rank's variety caps applied), with a bootstrap.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import JUDGED, RUNS, relabelled  # noqa: E402

from podbrief.extraction import grounding, labels, passages, writer  # noqa: E402
from podbrief.ranking import score  # noqa: E402
from podbrief.stages import polish  # noqa: E402

EACH = ROOT / "benchmarks" / "quality" / "verify-each-qwen2.5-1.5b.json"  # writer.verify / verify_each per judged insight
NEW = ("new-1.5b", "new-1.5b-polish")
HELD_OUT = "heldout-1.5b"  # five episodes extracted after the score was chosen (docs/extract.md)
RECENCY = {"val/covid_2": 0.0, "val/covid_6": 0.0}  # as in the brief-day run: now 2024-06-02, half-life 7 days; PAI 1 day old
PAI_RECENCY = 0.5 ** (1 / 7)


def judged() -> list[dict]:
    """Every judged insight once (its first judgement, as quality.py's table counts it), with its run record."""
    runs = {path.stem: json.loads(path.read_text()) for path in RUNS.glob("*.json")}
    by_text = {relabelled(r["text"]): r for r in runs["new-1.5b"]["insights"]}
    rows, seen = [], set()
    for path in sorted(JUDGED.glob("*.judged.*.json")):
        key = {k["n"]: k for k in json.loads((JUDGED / f"{path.name.split('.judged.')[0]}.key.json").read_text())}
        for grade in json.loads(path.read_text()):
            variant, index = key[grade["n"]]["variant"], key[grade["n"]]["index"]
            if (variant, index) in seen:
                continue
            seen.add((variant, index))
            record = runs[variant]["insights"][index]
            if "scores" not in record:  # a brief's item: the new-1.5b insight it was ranked from
                record = {**by_text[relabelled(record.get("draft") or record["text"])], "text": record["text"]}
            rows.append({"variant": variant, "index": index, "F": int(grade["F"]), "G": float(grade["G"]),
                         "W": int(grade["W"]), "record": record})
    return rows


def hosts(records: list[dict]) -> dict[str, set[str]]:
    """Per episode, the voices that ask (the questioners recorded with the insights)."""
    asked: dict[str, set[str]] = {}
    for r in records:
        who = (r.get("context") or {}).get("questioner")
        if who:
            asked.setdefault(r["episode"], set()).add(who)
    return asked


def features(record: dict, asked: dict[str, set[str]]) -> dict[str, float]:
    text, speaker = relabelled(record["text"]), record["speaker"]
    scores = record.get("scores") or {}
    context = record.get("context") or {}
    answer = context.get("answer") or ""
    sentences = passages.sentences(text)
    content = grounding.content(text) - grounding.content(speaker)
    said = grounding.content(answer)
    first = sentences[0] if sentences else ""
    names = {p.lower() for p in re.findall(r"[A-Za-z'-]+", speaker) if len(p) > 2}
    kind = (record.get("insight") or {}).get("kind", "")
    values = {name: float(scores.get(name, 0.0)) for name in ("surprise", "specificity", "actionability", "novelty")}
    values["faithful P(yes)"] = float(scores.get("faithful", 0.0))
    values["old quality (mean of 4)"] = statistics.mean(
        values[n] for n in ("surprise", "specificity", "actionability", "faithful P(yes)"))
    values |= {
        "words": len(text.split()),
        "sentences": len(sentences),
        "has a number (text)": float(bool(labels.NUMBER.search(text))),
        "has a number (quote)": float(bool(labels.NUMBER.search(record["quote"]))),
        "speaker is a guest (not a questioner)": float(speaker not in asked.get(record["episode"], set())),
        "highlighted by the show": float(bool(context.get("highlighted"))),
        "meta sentence (writer.without_meta changes it)": float(writer.without_meta(sentences, speaker) != sentences),
        "kind = advice": float(kind == "advice"),
        "kind = data point": float(kind == "data point"),
        "opens with the speaker's name": float(bool(first) and first.split()[0].strip(",.").lower() in names),
        "names the speaker": score.speaker_named({"speaker": speaker, "text": text}) or 0.0,
        "first sentence 'should'/'must'": float(bool(re.search(r"\b(?:should|must|need to|needs to)\b", first))),
        "answer words": len(answer.split()),
        "question words": len((context.get("question") or "").split()),
        "support: content words in the answer": len(content & said) / max(1, len(content)),
        "copy: 4-grams in the answer": grounding.copy_ratio(text, answer),
        "quote words": len(record["quote"].split()),
        "guest & has a number (text)": 0.0,
    }
    values["shipped quality (score._quality)"] = score.Scorer._quality({**record, "text": text})[0]
    values["guest & has a number (text)"] = values["speaker is a guest (not a questioner)"] * values["has a number (text)"]
    return values


def auc(xs: list[float], ys: list[int]) -> float:
    """P(x of a positive > x of a negative), ties half."""
    pos = [x for x, y in zip(xs, ys) if y]
    neg = [x for x, y in zip(xs, ys) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float:
    a, b = _ranks(xs), _ranks(ys)
    if len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return statistics.correlation(a, b)


def boot_auc(xs: list[float], ys: list[int], rounds: int = 400, seed: int = 1) -> tuple[float, float]:
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        picks = [rng.randrange(len(xs)) for _ in xs]
        value = auc([xs[i] for i in picks], [ys[i] for i in picks])
        if value == value:
            values.append(value)
    values.sort()
    return values[int(0.05 * len(values))], values[int(0.95 * len(values)) - 1]


# --- candidate quality scores ----------------------------------------------------------------------------


def candidates() -> dict[str, callable]:
    """A few simple, explainable combinations of the parts (names as in the table)."""
    return {
        "old: mean(surprise, specificity, actionability, P(yes))":
            lambda f: f["old quality (mean of 4)"],
        "P(yes) alone": lambda f: f["faithful P(yes)"],
        "mean(specificity, P(yes))": lambda f: (f["specificity"] + f["faithful P(yes)"]) / 2,
        "mean(specificity, P(yes), speaker named)": lambda f: (
            f["specificity"] + f["faithful P(yes)"] + f["names the speaker"]) / 3,
        "mean(novelty, P(yes), speaker named)": lambda f: (
            f["novelty"] + f["faithful P(yes)"] + f["names the speaker"]) / 3,
        "shipped: score._quality": lambda f: f["shipped quality (score._quality)"],
    }


def day_picks(rows: list[dict], key, top: int = 5) -> list[dict]:
    """rank's order for a day of these insights: quality + recency (no interests, nothing delivered), then
    select._cap's variety preference (rank.per_show 2, rank.per_episode 1)."""
    entries = []
    for row in rows:
        insight = {"id": f"{row['variant']}:{row['index']}", "episode": {"id": row["record"]["episode"],
                   "show": "Parliament" if row["record"]["episode"].startswith("val/") else "Practical AI"}}
        entry = score.Entry(insight, score=key(row["features"]) + RECENCY.get(row["record"]["episode"], PAI_RECENCY))
        entry.row = row  # type: ignore[attr-defined]
        entries.append(entry)
    entries.sort(key=lambda e: (-e.score, e.id))
    from podbrief.ranking.select import _cap

    picked = _cap(entries, {"per_show": 2, "per_episode": 1}, top)
    return [e.row for e in picked]  # type: ignore[attr-defined]


def main() -> None:
    rows = judged()
    runs = {path.stem: json.loads(path.read_text()) for path in RUNS.glob("*.json")}
    asked = hosts([r for run in runs.values() for r in run["insights"] if "context" in r])
    for row in rows:
        row["features"] = features(row["record"], asked)
    groups = {"new-1.5b": [r for r in rows if r["variant"] == "new-1.5b"],
              "new-1.5b-polish": [r for r in rows if r["variant"] == "new-1.5b-polish"]}
    groups["pooled new"] = groups["new-1.5b"] + groups["new-1.5b-polish"]
    names = list(rows[0]["features"])
    print(f"judged insights: {len(rows)}; new-1.5b {len(groups['new-1.5b'])}, "
          f"new-1.5b-polish {len(groups['new-1.5b-polish'])}\n")
    print("| feature (at rank time) | AUC F new-1.5b | AUC F polish | AUC F pooled (90% CI) | rho G new-1.5b | "
          "rho G polish | rho G pooled | pooled mean (F=1 / F=0) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        cells = []
        for group in ("new-1.5b", "new-1.5b-polish"):
            g = groups[group]
            cells.append(f"{auc([r['features'][name] for r in g], [r['F'] for r in g]):.2f}")
        pool = groups["pooled new"]
        xs, fs = [r["features"][name] for r in pool], [r["F"] for r in pool]
        lo, hi = boot_auc(xs, fs)
        rho = [f"{spearman([r['features'][name] for r in groups[g]], [r['G'] for r in groups[g]]):+.2f}"
               for g in ("new-1.5b", "new-1.5b-polish", "pooled new")]
        mean_pos = statistics.mean(x for x, f in zip(xs, fs) if f)
        mean_neg = statistics.mean(x for x, f in zip(xs, fs) if not f)
        print(f"| {name} | {cells[0]} | {cells[1]} | {auc(xs, fs):.2f} ({lo:.2f}-{hi:.2f}) | {' | '.join(rho)} | "
              f"{mean_pos:.2f} / {mean_neg:.2f} |")

    print("\nMeta-sentence rule on the judged insights (every variant; baseline texts use their own style)\n")
    print("| insights | n | F | W | mean G |")
    print("|---|---|---|---|---|")
    for variants, label in ((NEW + ("brief-day",), "new design"), (None, "all variants")):
        chosen = [r for r in rows if variants is None or r["variant"] in variants]
        for flag, what in ((1.0, "changed by the rule"), (0.0, "not changed")):
            part = [r for r in chosen if r["features"]["meta sentence (writer.without_meta changes it)"] == flag]
            if part:
                print(f"| {label}: {what} | {len(part)} | {100 * statistics.mean(r['F'] for r in part):.0f}% | "
                      f"{100 * statistics.mean(r['W'] for r in part):.0f}% | {statistics.mean(r['G'] for r in part):.2f} |")

    print("\nCandidate quality scores (pooled new design; per episode = mean of within-episode AUC/rho, nothing fitted)\n")
    print("| score | AUC F | rho G | per-episode AUC F | per-episode rho G | day top 5 (new-1.5b): F, mean G | "
          "bootstrap day F (mean, 5-95%) | bootstrap day G | P(day G > old) |")
    print("|---|---|---|---|---|---|---|---|---|")
    pool = groups["pooled new"]
    episodes = sorted({r["record"]["episode"] for r in pool})
    day = groups["new-1.5b"]
    rng = random.Random(5)
    resamples = []
    by_episode = {e: [r for r in day if r["record"]["episode"] == e] for e in episodes}
    for _ in range(1000):
        sample = []
        for e in episodes:
            items = by_episode[e]
            sample += [items[rng.randrange(len(items))] for _ in items]
        resamples.append(sample)
    old_key = candidates()["old: mean(surprise, specificity, actionability, P(yes))"]
    old_g = [statistics.mean(r["G"] for r in day_picks(s, old_key)) for s in resamples]
    for label, key in candidates().items():
        xs = [key(r["features"]) for r in pool]
        aucs, rhos = [], []
        for e in episodes:
            held = [r for r in pool if r["record"]["episode"] == e]
            aucs.append(auc([key(r["features"]) for r in held], [r["F"] for r in held]))
            rhos.append(spearman([key(r["features"]) for r in held], [r["G"] for r in held]))
        picks = day_picks(day, key)
        boot_f = sorted(sum(r["F"] for r in day_picks(s, key)) for s in resamples)
        boot_g = [statistics.mean(r["G"] for r in day_picks(s, key)) for s in resamples]
        better = sum(a > b for a, b in zip(boot_g, old_g)) / len(boot_g)
        sorted_g = sorted(boot_g)
        print(f"| {label} | {auc(xs, [r['F'] for r in pool]):.2f} | {spearman(xs, [r['G'] for r in pool]):+.2f} | "
              f"{statistics.mean(a for a in aucs if a == a):.2f} | {statistics.mean(r for r in rhos if r == r):+.2f} | "
              f"{sum(r['F'] for r in picks)}/5, {statistics.mean(r['G'] for r in picks):.2f} | "
              f"{statistics.mean(boot_f):.1f} ({boot_f[50]}-{boot_f[949]}) | {statistics.mean(boot_g):.2f} "
              f"({sorted_g[50]:.2f}-{sorted_g[949]:.2f}) | {better:.0%} |")
        if "--picks" in sys.argv:
            for r in picks:
                print(f"    {r['index']:2d} F{r['F']} G{r['G']:.0f} {key(r['features']):.3f} {relabelled(r['record']['text'])[:90]}")

    loeo_selection(pool)
    held_out([r for r in rows if r["variant"] == HELD_OUT])
    per_sentence(rows)


def held_out(rows: list[dict]) -> None:
    """The scores on episodes none of this was designed on (run heldout-1.5b, judged after the score was chosen):
    AUC F, rho G, and the judged F and G of the day's top 5 each score picks."""
    if not rows:
        return
    print(f"\nHeld out: {len(rows)} insights of {len({r['record']['episode'] for r in rows})} new episodes "
          f"({HELD_OUT}), judged after the score was chosen\n")
    print("| score | AUC F | rho G | day top 5: F, W, mean G |")
    print("|---|---|---|---|")
    for label, key in candidates().items():
        xs = [key(r["features"]) for r in rows]
        picks = day_picks(rows, key)
        print(f"| {label} | {auc(xs, [r['F'] for r in rows]):.2f} | {spearman(xs, [r['G'] for r in rows]):+.2f} | "
              f"{sum(r['F'] for r in picks)}/5, {sum(r['W'] for r in picks)}/5, "
              f"{statistics.mean(r['G'] for r in picks):.2f} |")
        if "--picks" in sys.argv:
            for r in picks:
                print(f"    {r['index']:2d} F{r['F']} G{r['G']:.0f} {key(r['features']):.3f} {relabelled(r['record']['text'])[:90]}")


def loeo_selection(pool: list[dict]) -> None:
    """Honest selection: the best mean of a subset of the parts, chosen on four episodes (pooled AUC F - 0.5 +
    rho G), judged on the fifth: held-out AUC F, rho G and the held-out episode's top insight per variant."""
    import itertools

    parts = ("surprise", "specificity", "actionability", "novelty", "faithful P(yes)", "names the speaker")
    subsets = [s for k in range(1, len(parts) + 1) for s in itertools.combinations(parts, k)]

    def key(subset):
        return lambda f: statistics.mean(f[p] for p in subset)

    def objective(rows, k):
        xs = [k(r["features"]) for r in rows]
        return auc(xs, [r["F"] for r in rows]) - 0.5 + spearman(xs, [r["G"] for r in rows])

    old = ("surprise", "specificity", "actionability", "faithful P(yes)")
    print("\nLeave-one-episode-out selection of the parts (chosen on 4 episodes, judged on the 5th)\n")
    print("| rule | held-out AUC F | held-out rho G | held-out top pick: F, mean G | chosen per fold |")
    print("|---|---|---|---|---|")
    episodes = sorted({r["record"]["episode"] for r in pool})
    for label, choose in (("old parts", lambda train: old),
                          ("selected on 4 episodes", lambda train: max(subsets, key=lambda s: objective(train, key(s))))):
        aucs, rhos, tops, chosen = [], [], [], []
        for e in episodes:
            train = [r for r in pool if r["record"]["episode"] != e]
            test = [r for r in pool if r["record"]["episode"] == e]
            subset = choose(train)
            chosen.append("+".join(p.split()[0] for p in subset))
            k = key(subset)
            aucs.append(auc([k(r["features"]) for r in test], [r["F"] for r in test]))
            rhos.append(spearman([k(r["features"]) for r in test], [r["G"] for r in test]))
            for variant in NEW:
                best = max((r for r in test if r["variant"] == variant), key=lambda r: (k(r["features"]), r["index"]))
                tops.append(best)
        print(f"| {label} | {statistics.mean(aucs):.2f} | {statistics.mean(rhos):+.2f} | "
              f"{100 * statistics.mean(r['F'] for r in tops):.0f}%, {statistics.mean(r['G'] for r in tops):.2f} | "
              f"{'; '.join(chosen) if label != 'old parts' else 'surprise+specificity+actionability+faithful'} |")


def measure_each(rows: list[dict]) -> None:
    """writer.verify and writer.verify_each (Qwen 1.5B, 2 threads) on the judged insights of new-1.5b and the
    held-out run, saved to EACH."""
    import tempfile

    from podbrief import model_registry
    from podbrief.engines.llm import LLM
    from podbrief.store import Paths

    with tempfile.TemporaryDirectory() as home:
        paths = Paths(Path(home))
        engine = LLM(model_registry.resolve("llm", "qwen2.5-1.5b", paths), paths, threads=2, context_size=2048)
        measured = {}
        for row in rows:
            if row["variant"] in ("new-1.5b", HELD_OUT):
                record = row["record"]  # its context as polish reads it: the answer and the speaker's next words
                context = polish.context_of({"context": record["context"], "speaker": record["speaker"]})
                if context is None:
                    continue
                text = relabelled(record["text"])
                measured[f"{row['variant']}:{row['index']}"] = {
                    "whole": writer.verify(engine, context, text), "each": writer.verify_each(engine, context, text)}
    EACH.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")


def per_sentence(rows: list[dict]) -> None:
    """The per-sentence check (EACH) against the whole-text one, on the design day and the held-out day."""
    if not EACH.exists():
        return
    measured = json.loads(EACH.read_text())
    print(f"\nThe verifier asked of each sentence (writer.verify_each) against the whole text (writer.verify), "
          f"same context, Qwen 1.5B ({EACH.name})\n")
    print("| insights | n | judged F | AUC F: whole | AUC F: lowest sentence | kept at lowest sentence >= 0.8: n, F | "
          "day top 5, shipped score on the whole: F, mean G | on the lowest sentence: F, mean G |")
    print("|---|---|---|---|---|---|---|---|")
    for variant, label in (("new-1.5b", "design day (new-1.5b)"), (HELD_OUT, "held-out day")):
        part = [r for r in rows if r["variant"] == variant and f"{variant}:{r['index']}" in measured]
        for r in part:
            r["features"].update({f"P(yes) {k}": v for k, v in measured[f"{variant}:{r['index']}"].items()})
        fs = [r["F"] for r in part]
        kept = [r for r in part if r["features"]["P(yes) each"] >= 0.8]
        cells = []
        for verified in ("P(yes) whole", "P(yes) each"):
            picks = day_picks(part, lambda f, v=verified: (f["specificity"] + f[v] + f["names the speaker"]) / 3)
            cells.append(f"{sum(r['F'] for r in picks)}/5, {statistics.mean(r['G'] for r in picks):.2f}")
        print(f"| {label} | {len(part)} | {statistics.mean(fs):.0%} | "
              f"{auc([r['features']['P(yes) whole'] for r in part], fs):.2f} | "
              f"{auc([r['features']['P(yes) each'] for r in part], fs):.2f} | "
              f"{len(kept)}, {statistics.mean([r['F'] for r in kept] or [0]):.0%} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    if "--measure-each" in sys.argv:
        measure_each(judged())
    main()
