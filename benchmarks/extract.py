"""Benchmark the extract stage on QMSum meetings (see docs/extract.md for the results).

    python benchmarks/extract.py --selection [--split train]
        passage selection alone, against the human query spans (no model)
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qmsum  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from podbrief.extraction import passages as P  # noqa: E402

ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)


def segments_of(meeting: qmsum.Meeting) -> list[P.Segment]:
    return [P.Segment(s["start"], s["end"], s["text"], s["speaker"]) for s in meeting.transcript["segments"]]


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
    "score+spread (used)": lambda ps, n, d, rng: P.select(ps, n, d)[:n],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--selection", action="store_true", help="measure passage selection only (no model)")
    parser.add_argument("--split", default="val", choices=["train", "val"])
    args = parser.parse_args()
    if args.selection:
        run_selection(args.split)


if __name__ == "__main__":
    main()
