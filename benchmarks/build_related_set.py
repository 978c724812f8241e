"""Build the labelled related-insight set in tests/fixtures/related/ from QMSum.

Each item is an insight-like text: the first two sentences of a human answer to a
QMSum `specific_query_list` question, with a leading "When discussing <topic>, "
clause removed (real insights don't restate the topic). Its label is the meeting
topic (`topic_list`) whose span covers most of the answer's span; answers that fall
mostly outside one topic are left out.

Pairs are labelled by `benchmarks/related.py`:
  related      same meeting, same topic
  unrelated    same meeting, different topic (hard), or different domains (easy)
  unlabelled   different meetings of the same domain (a theme may recur there)

Usage: python benchmarks/build_related_set.py /work/shared/data/qmsum
Writes calibration.json (from train, for choosing thresholds) and heldout.json
(from val, for reporting).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "related"
MEETINGS_PER_DOMAIN = {"train": 8, "val": 10}
LEAD_CLAUSE = re.compile(
    r"^(when (it comes to|talking about|discussing|asked about|talking of)|in terms of|as for|"
    r"regarding|speaking of)\b[^,]{0,200},\s*",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def domain(meeting: str) -> str:
    """QMSum's three sources: AMI product design, ICSI research, parliamentary committees."""
    if re.match(r"^(ES|IS|TS)\d", meeting):
        return "product"
    if re.match(r"^B[a-z]{2}\d", meeting):
        return "academic"
    return "committee"


def span_turns(spans: list[list[str]]) -> set[int]:
    turns: set[int] = set()
    for start, end in spans:
        turns.update(range(int(start), int(end) + 1))
    return turns


def insight_text(answer: str) -> str:
    text = LEAD_CLAUSE.sub("", answer.strip())
    text = text[:1].upper() + text[1:]
    return " ".join(SENTENCE_END.split(text)[:2])


def items_for(path: Path) -> list[dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    topics = [span_turns(topic["relevant_text_span"]) for topic in data["topic_list"]]
    items = []
    for number, query in enumerate(data["specific_query_list"]):
        turns = span_turns(query["relevant_text_span"])
        overlaps = [len(turns & topic) for topic in topics]
        best = max(range(len(topics)), key=lambda i: overlaps[i])
        if not turns or overlaps[best] < 0.5 * len(turns):
            continue
        items.append({
            "id": f"{path.stem}/q{number}",
            "meeting": path.stem,
            "domain": domain(path.stem),
            "topic": best,
            "topic_title": data["topic_list"][best]["topic"],
            "text": insight_text(query["answer"]),
        })
    return items


def build(split_dir: Path, per_domain: int) -> list[dict[str, object]]:
    """The first `per_domain` meetings of each domain (sorted by name: deterministic)."""
    taken: dict[str, int] = {}
    items: list[dict[str, object]] = []
    for path in sorted(split_dir.glob("*.json")):
        if taken.get(domain(path.stem), 0) >= per_domain:
            continue
        meeting_items = items_for(path)
        if meeting_items:
            taken[domain(path.stem)] = taken.get(domain(path.stem), 0) + 1
            items.extend(meeting_items)
    return items


def main(qmsum: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "calibration"), ("val", "heldout")):
        items = build(qmsum / split, MEETINGS_PER_DOMAIN[split])
        document = {"source": f"QMSum {split} split (MIT; AMI and ICSI corpora CC BY 4.0)", "items": items}
        (OUT / f"{name}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name}: {len(items)} items from {len({i['meeting'] for i in items})} meetings")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
