"""Benchmark the extract stage on QMSum meetings (see docs/extract.md for the results).

    python benchmarks/extract.py --selection [--split train]
        passage selection alone, against the human query spans (no model)
    python benchmarks/extract.py --models qwen2.5-0.5b smollm2-135m [--meetings ...] [--samples FILE]
        the extract stage and the naive baseline (whole chunk -> JSON insights) per model:
        coverage of the human topic summaries, grounding rate, copy rate, seconds per hour
    python benchmarks/extract.py --threads --models qwen2.5-0.5b
        tokens per second with 1 and 2 llama.cpp threads

Run benchmarks one at a time: flock /tmp/podbrief-bench.lock python benchmarks/extract.py ...
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qmsum
from rouge_score import rouge_scorer

from podbrief import model_registry
from podbrief.engines.llm import LLM
from podbrief.extraction import grounding, structure, writer
from podbrief.extraction import passages as P
from podbrief.formats import transcripts
from podbrief.stages import extract as stage
from podbrief.store import Paths

ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
MEETINGS = ("education_0", "education_10", "education_22")
COVERED = 0.2  # content ROUGE-1 F1 at which an insight covers a human summary (see calibrate_coverage)


def segments_of(meeting: qmsum.Meeting) -> list[transcripts.Segment]:
    return [transcripts.Segment(s["start"], s["end"], s["text"], s["speaker"]) for s in meeting.transcript["segments"]]


def turns_of(meeting: qmsum.Meeting, passage: P.Passage) -> set[int]:
    starts = [s["start"] for s in meeting.transcript["segments"]]
    return {meeting.turn_of_segment[max(0, bisect.bisect_right(starts, s.start + 1e-6) - 1)] for s in passage.segments}


def selection_metrics(meeting: qmsum.Meeting, picked: Sequence[P.Passage]) -> dict[str, float]:
    """query_recall: share of human query spans that hold a picked passage;
    precision: share of picked passages inside some query span; topic_recall: same for topic spans;
    summary_rouge: mean over the human query answers of the best ROUGE-2 recall by a picked passage
    (how much of what people summarised the picked passages contain)."""
    turns = [turns_of(meeting, p) for p in picked]
    in_any = set().union(*(span for _, _, span in meeting.queries))
    return {
        "summary_rouge": statistics.mean(
            max((ROUGE.score(answer, p.text)["rouge2"].recall for p in picked), default=0.0)
            for _, answer, _ in meeting.queries),
        "query_recall": statistics.mean(any(t & span for t in turns) for _, _, span in meeting.queries),
        "precision": statistics.mean(bool(t & in_any) for t in turns) if turns else 0.0,
        "topic_recall": statistics.mean(any(t & span for t in turns) for _, span in meeting.topics),
    }


def budget(meeting: qmsum.Meeting, per_hour: float = 8, minimum: int = 3) -> int:
    return max(minimum, round(per_hour * meeting.hours))


Selector = Callable[[list[P.Passage], int, float, random.Random], list[P.Passage]]


def eligible(passages: list[P.Passage]) -> list[P.Passage]:
    return [p for p in passages if p.words >= P.MIN_WORDS]


SELECTORS: dict[str, Selector] = {
    "random": lambda ps, n, d, rng: rng.sample(eligible(ps), min(n, len(eligible(ps)))),
    "longest": lambda ps, n, d, rng: sorted(eligible(ps), key=lambda p: -p.words)[:n],
    "score": lambda ps, n, d, rng: sorted(eligible(ps), key=lambda p: -P.passage_score(p))[:n],
    "podcast shape + score + spread (used)": lambda ps, n, d, rng: [
        s.passage for s in structure.select(structure.shape(ps, d), n, d)[:n]],
}


def run_selection(split: str, draws: int = 20) -> None:
    meetings = qmsum.meetings(split)
    print(f"passage selection on QMSum {split} ({len(meetings)} meetings, covid_*/education_*), "
          f"picking 8 per hour of speech; random: mean of {draws} draws")
    print("| method | query recall | precision | topic recall | summary ROUGE-2 recall |\n|---|---|---|---|---|")
    for name, selector in SELECTORS.items():
        rows = []
        for meeting in meetings:
            passages = P.build_passages(segments_of(meeting))
            n, duration = budget(meeting), meeting.transcript["duration"]
            rounds = draws if name == "random" else 1
            rng = random.Random(0)
            per = [selection_metrics(meeting, selector(passages, n, duration, rng)) for _ in range(rounds)]
            rows.append({k: statistics.mean(r[k] for r in per) for k in per[0]})
        means = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        print(f"| {name} | {means['query_recall']:.2f} | {means['precision']:.2f} | {means['topic_recall']:.2f} "
              f"| {means['summary_rouge']:.3f} |")


# --- the stage against the naive baseline ----------------------------------------------------

BASELINE_PROMPT = ("Extract the key insights from this podcast transcript. Reply with a JSON list of objects with the "
                   "fields \"text\" (the insight), \"speaker\" and \"quote\" (a verbatim quote that supports it).")
BASELINE_CHUNK_TOKENS = 1800


def load_engine(name: str, threads: int) -> LLM:
    paths = Paths.default()
    return LLM(model_registry.resolve("llm", name, paths), paths, threads, context_size=4096)


def run_stage(engine: LLM, meeting: qmsum.Meeting, per_hour: float = 8) -> tuple[list[dict], dict]:
    transcript = transcripts.Transcript(segments_of(meeting), meeting.transcript["duration"], "", None)
    insights, stats = stage.extract(transcript, None, engine, budget(meeting, per_hour))
    return [{"text": i["text"], "quote": i["quote"]["text"]} for i in insights], stats.to_json()


def parse_json_objects(reply: str) -> list[dict]:
    """Every JSON object in a reply, wherever it sits (lists, prose, trailing junk)."""
    decoder = json.JSONDecoder()
    found, position = [], 0
    while (position := reply.find("{", position)) >= 0:
        try:
            item, end = decoder.raw_decode(reply, position)
        except json.JSONDecodeError:
            position += 1
            continue
        if isinstance(item, dict):
            found.append(item)
        position = end
    return found


def run_baseline(engine: LLM, meeting: qmsum.Meeting) -> list[dict]:
    """The naive approach: whole ~1,800-token chunks, one JSON list of insights per chunk."""
    lines = [f"{s['speaker']}: {s['text']}" for s in meeting.transcript["segments"]]
    chunks, current = [], []
    for line in lines:
        if current and engine.tokens("\n".join(current + [line])) > BASELINE_CHUNK_TOKENS:
            chunks.append("\n".join(current))
            current = []
        current.append(line)
    chunks.append("\n".join(current))
    found = []
    for chunk in chunks:
        prompt = engine.prompt([{"role": "user", "content": f"{BASELINE_PROMPT}\n\n{chunk}"}])
        reply = engine.complete(prompt, max_tokens=512, stop=())
        for item in parse_json_objects(reply):
            if isinstance(item.get("text"), str) and item["text"].strip():
                found.append({"text": item["text"], "quote": str(item.get("quote") or "")})
    return found


def quality(meeting: qmsum.Meeting, insights: list[dict]) -> dict[str, float]:
    """coverage: share of the human query answers that some insight covers (content ROUGE-1 F1 >= COVERED);
    rouge1: mean best content ROUGE-1 F1 per answer; on_topic: share of insights that cover some answer;
    grounded: share of insights whose quote is found in the transcript; copies: share of insights with
    more than COPY_MAX of their 4-grams anywhere in the transcript."""
    scores = [[rouge1(answer, i["text"]) for i in insights] for _, answer, _ in meeting.queries]
    best = [max(row, default=0.0) for row in scores]

    def share(flags: list[bool]) -> float:
        return statistics.mean(flags) if flags else float("nan")

    return {
        "coverage": statistics.mean(b >= COVERED for b in best),
        "rouge1": statistics.mean(best),
        "on_topic": share([any(row[k] >= COVERED for row in scores) for k in range(len(insights))]),
        "grounded": share([i["grounded"] for i in insights]),
        "copies": share([i["copy"] for i in insights]),
        "count": len(insights),
    }


def checked(meeting: qmsum.Meeting, insights: list[dict]) -> list[dict]:
    """The insights with `grounded` (quote found in the transcript) and `copy` flags."""
    segments = segments_of(meeting)
    full = " ".join(s.text for s in segments)
    return [{**i, "grounded": grounding.locate(i["quote"], segments) is not None,
             "copy": grounding.copy_ratio(i["text"], full) > grounding.COPY_MAX} for i in insights]


def run_models(names: list[str], meetings: list[str], threads: int, baseline: bool, samples: Path | None,
               save: Path | None) -> None:
    data = [qmsum.load(qmsum.DATA / "val" / f"{m}.json") for m in meetings]
    hours = sum(m.hours for m in data)
    print(f"{len(data)} QMSum val meetings ({', '.join(meetings)}), {hours:.2f} h of speech at 150 words/min; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows, kept = [], {}
    for name in names:
        engine = load_engine(name, threads)
        methods = [("extract", lambda m, e=engine: run_stage(e, m)[0])] + \
            ([("naive baseline", lambda m, e=engine: run_baseline(e, m))] if baseline else [])
        for method, run in methods:
            started = time.monotonic()
            for meeting in data:
                kept[(name, method, meeting.name)] = checked(meeting, run(meeting))
            per_hour = (time.monotonic() - started) / hours
            print(f"  {name} {method}: {per_hour * hours:.0f} s", flush=True)
            rows.append((name, method, engine.threads, [quality(m, kept[(name, method, m.name)]) for m in data],
                         per_hour))
            if method != "extract":  # what it would deliver if held to the stage's checks
                rows.append((name, f"{method}, grounded non-copies only", engine.threads,
                             [quality(m, [i for i in kept[(name, method, m.name)] if i["grounded"] and not i["copy"]])
                              for m in data], per_hour))
    print("\n| model | method | threads | insights/h | coverage | ROUGE-1 | on-topic | grounded | copies | s per hour |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, method, used, results, per_hour in rows:
        mean = {k: statistics.mean(r[k] for r in results if r[k] == r[k]) if any(r[k] == r[k] for r in results)
                else float("nan") for k in results[0]}
        print(f"| {name} | {method} | {used} | {sum(r['count'] for r in results) / hours:.1f} | {mean['coverage']:.2f} "
              f"| {mean['rouge1']:.3f} | {mean['on_topic']:.0%} | {mean['grounded']:.0%} | {mean['copies']:.0%} "
              f"| {per_hour:.0f} |")
    if samples:
        write_samples(samples, data, kept, names[0])
    if save:
        save.write_text(json.dumps([{"model": k[0], "method": k[1], "meeting": k[2], "insights": v}
                                    for k, v in kept.items()], indent=1))


def write_samples(path: Path, meetings: list[qmsum.Meeting], kept: dict, model: str) -> None:
    out = [f"<!-- written by benchmarks/extract.py --samples with {model} -->"]
    for meeting in meetings:
        out.append(f"\n### {meeting.name} ({meeting.hours:.1f} h)\n\nHuman topics: "
                   + "; ".join(topic for topic, _ in meeting.topics) + "\n")
        for insight in kept[(model, "extract", meeting.name)]:
            out.append(f"- {insight['text']}\n  > {insight['quote']}")
    path.write_text("\n".join(out) + "\n")


def rouge1(reference: str, text: str) -> float:
    """ROUGE-1 F1 (stemmed) over content words: stop words would make any two texts overlap."""

    def keep(t: str) -> str:
        return " ".join(w for w in grounding.words(t) if w not in grounding.STOP)

    return ROUGE.score(keep(reference), keep(text))["rouge1"].fmeasure


def calibrate_coverage(meetings: list[str]) -> None:
    """Content ROUGE-1 F1 between a meeting's human answers and insight-sized texts (the first 35 words
    of the human answers) of other meetings: unrelated texts on similar subjects. COVERED sits above
    their 99th percentile."""
    data = [qmsum.load(qmsum.DATA / "val" / f"{m}.json") for m in meetings]
    null = [rouge1(a, " ".join(b.split()[:35])) for x in data for y in data if x is not y
            for _, a, _ in x.queries for _, b, _ in y.queries]
    null.sort()
    print(f"unrelated answers: ROUGE-1 F1 median {null[len(null) // 2]:.3f}, 95th percentile "
          f"{null[int(len(null) * 0.95)]:.3f}, 99th {null[int(len(null) * 0.99)]:.3f}")


# --- output formats and threads ------------------------------------------------------------------

def run_threads(name: str) -> None:
    text = qmsum.load(qmsum.DATA / "val" / "education_10.json").transcript["segments"]
    passage = " ".join(s["text"] for s in text[40:52])
    print(f"{name}: one passage prompt + 64 generated tokens, load average {os.getloadavg()[0]:.1f}")
    for threads in (1, 2):
        engine = load_engine(name, threads)
        prompt = engine.prompt(writer.messages(writer.Context(passage, "Bethan Owen"), writer.WRITE))
        engine.complete(prompt, max_tokens=4)  # warm up
        started = time.monotonic()
        for seed in range(3):
            engine._llama.reset()  # benchmark only: evaluate the whole prompt every time
            engine.complete(prompt + "x" * seed, max_tokens=64, stop=())
        print(f"  {threads} thread(s): {(time.monotonic() - started) / 3:.1f} s per passage "
              f"(load average {os.getloadavg()[0]:.1f})")
        del engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--selection", action="store_true", help="measure passage selection only (no model)")
    parser.add_argument("--split", default="val", choices=["train", "val"])
    parser.add_argument("--models", nargs="*", default=[], help="LLMs to run (registry names or .gguf paths)")
    parser.add_argument("--meetings", nargs="*", default=list(MEETINGS))
    parser.add_argument("--threads", type=int, default=None, nargs="?", const=-1,
                        help="with a number: llama.cpp threads for the runs (default: podbrief's default); "
                             "alone: compare 1 and 2 threads")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--calibrate", action="store_true", help="the ROUGE-1 F1 of unrelated summaries")
    parser.add_argument("--samples", type=Path, help="write the first model's insights as Markdown here")
    parser.add_argument("--save", type=Path, help="write every insight with its checks as JSON here")
    args = parser.parse_args()
    if args.selection:
        run_selection(args.split)
    if args.calibrate:
        calibrate_coverage(args.meetings)
    if args.threads == -1:
        for name in args.models:
            run_threads(name)
        return
    threads = args.threads or 0
    if args.models:
        run_models(args.models, args.meetings, threads, not args.no_baseline, args.samples, args.save)


if __name__ == "__main__":
    main()
