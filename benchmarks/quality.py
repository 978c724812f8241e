"""Insight quality on real podcasts: automatic figures per variant, blind judging, the verifier's precision/recall.

    python benchmarks/quality.py                 # print every table from the saved runs and judgements
    python benchmarks/quality.py extract NAME --model qwen2.5-1.5b [--checkout DIR]   # one variant's insights
    python benchmarks/quality.py polish NAME --from NEW        # the brief's polish applied to NEW's insights
    python benchmarks/quality.py brief NAME --model M          # a day of >= 5 episodes -> ranked, polished top 5
    python benchmarks/quality.py blind RUN... --out FILE       # one shuffled list for an independent judge
    python benchmarks/quality.py verifier --model M            # the faithfulness check on the labelled set

Data: Practical AI (29 real episodes with human transcripts and named speakers, CC BY-SA 4.0,
read with podbrief's Markdown transcript parser) and QMSum committee sessions (a second
domain, MIT / CC BY 4.0). `--checkout DIR` runs another checkout's extractor (git worktree
of an older commit) on the same data, so "today's extractor" is measured beside the new one.
Runs are saved in benchmarks/quality/runs/, judgements in benchmarks/quality/judged/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks" / "quality"
RUNS, JUDGED = HERE / "runs", HERE / "judged"
SHARED = ROOT.parent / "shared" / "data"
PODCASTS = SHARED / "podcasts" / "practical-ai"
QMSUM = SHARED / "qmsum"
EPISODES = ("practical-ai-276", "practical-ai-281", "practical-ai-290", "practical-ai-296")
MEETINGS = ("val/covid_2",)
PER_EPISODE = 10  # insights asked of each episode: >= 40 per variant over the set
BRIEF_DAY = ("practical-ai-277", "practical-ai-283", "practical-ai-288", "practical-ai-293", "practical-ai-299")
CONTEXT_WORDS = 150  # transcript words either side of a quote, for the judge


def _repo_on_path(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))


# --- data --------------------------------------------------------------------------------


def episode(name: str) -> tuple[list, float, dict]:
    """Segments (podbrief Segment), duration and an episode dict for one data set item."""
    from podbrief.formats.transcripts import Segment

    if name.startswith("practical-ai"):
        from podbrief.formats.transcripts import merge_cues, parse_markdown

        segments = merge_cues(parse_markdown((PODCASTS / f"{name}.md").read_text()))
        number = name.rsplit("-", 1)[1]
        meta = {"title": f"Practical AI #{number}", "show": "Practical AI", "published": "2024-06-01T00:00:00Z"}
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import qmsum

        meeting = qmsum.load(QMSUM / f"{name}.json")
        segments = meeting.transcript["segments"]
        meta = {"title": "House of Commons committee (QMSum)", "show": "Parliament (QMSum)",
                "published": "2020-05-01T00:00:00Z"}
    segs = [Segment(float(s["start"]), float(s["end"]), s["text"], s["speaker"]) for s in segments]
    return segs, max(s.end for s in segs), meta


def words_around(segments: list, start: float, end: float, wanted: int = CONTEXT_WORDS) -> str:
    """The transcript around [start, end]: `wanted` words either side, speaker-labelled."""
    inside = [i for i, s in enumerate(segments) if s.end >= start and s.start <= end] or [0]
    lo, hi = inside[0], inside[-1]
    before = after = 0
    while lo > 0 and before < wanted:
        lo -= 1
        before += len(segments[lo].text.split())
    while hi < len(segments) - 1 and after < wanted:
        hi += 1
        after += len(segments[hi].text.split())
    lines, speaker = [], object()
    for s in segments[lo:hi + 1]:
        if s.speaker != speaker:
            lines.append(f"\n{s.speaker}: ")
            speaker = s.speaker
        lines.append(s.text + " ")
    return "".join(lines).strip()


# --- extract -------------------------------------------------------------------------------


DATA_CACHE = Path(tempfile.gettempdir()) / "podbrief-quality-data"


def prepare(names: list[str]) -> None:
    """Each data set item as a podbrief.transcript/1 file (+ its episode dict), which any checkout can read."""
    DATA_CACHE.mkdir(exist_ok=True)
    for name in names:
        segments, duration, meta = episode(name)
        rows = [{"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker, "flags": []} for s in segments]
        (DATA_CACHE / f"{name.replace('/', '_')}.json").write_text(json.dumps(
            {"schema": "podbrief.transcript/1", "episode_id": name, "duration": duration, "segments": rows}))
        (DATA_CACHE / f"{name.replace('/', '_')}.episode.json").write_text(json.dumps(meta))


def run_extract(args: argparse.Namespace) -> None:
    names = [n for n in args.episodes.split(",") + args.meetings.split(",") if n]
    if os.environ.get("QUALITY_CHILD") != "1":  # prepare the data here, extract in a process that imports the checkout
        prepare(names)
        env = {**os.environ, "QUALITY_CHILD": "1", "PYTHONPATH": str(Path(args.checkout or ROOT).resolve())}
        sys.exit(subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=env))
    from podbrief import model_registry
    from podbrief.engines.llm import LLM
    from podbrief.formats import transcripts
    from podbrief.stages import extract as stage
    from podbrief.store import Paths

    paths = Paths.default()
    engine = LLM(model_registry.resolve("llm", args.model, paths), paths, args.threads, 4096)
    records, timing = [], []
    for name in names:
        transcript = transcripts.load(DATA_CACHE / f"{name.replace('/', '_')}.json")
        meta = json.loads((DATA_CACHE / f"{name.replace('/', '_')}.episode.json").read_text())
        segments, duration = transcript.segments, transcript.duration
        started = time.monotonic()
        insights, stats = stage.extract(transcript, meta, engine, args.per_episode)
        seconds = time.monotonic() - started
        timing.append({"episode": name, "audio_seconds": duration, "seconds": seconds, "kept": len(insights),
                       "stats": stats.to_json()})
        print(f"{name}: {len(insights)} insights in {seconds:.0f} s ({duration / 60:.0f} min of talk)", flush=True)
        for insight in insights:
            records.append({"episode": name, "text": insight["text"], "speaker": insight["speaker"],
                            "quote": insight["quote"]["text"], "start": insight["quote"]["start"],
                            "end": insight["quote"]["end"], "scores": insight.get("scores"),
                            "context": insight.get("context"), "insight": insight,
                            "transcript": words_around(segments, insight["quote"]["start"], insight["quote"]["end"])})
    save(args.name, {"variant": args.name, "model": args.model, "checkout": args.checkout, "threads": engine.threads,
                     "timing": timing, "insights": records})


def save(name: str, data: dict) -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    print(f"saved {RUNS / f'{name}.json'}")


def _polish_engine(model: str, threads: int):
    from podbrief import model_registry
    from podbrief.engines.llm import LLM
    from podbrief.store import Paths

    paths = Paths.default()
    return LLM(model_registry.resolve("llm", model, paths), paths, threads, 4096)


def run_polish(args: argparse.Namespace) -> None:
    """Apply the brief's polish to every insight of a run, as if each were a finalist."""
    from podbrief.stages import polish

    source = json.loads((RUNS / f"{args.source}.json").read_text())
    engine = _polish_engine(args.model, args.threads)
    records, dropped, seconds = [], 0, []
    for record in source["insights"][:args.limit]:
        insight = {"id": "x", "text": relabelled(record["text"]), "speaker": record["speaker"], "context": record["context"],
                   "episode": {"title": _title(record["episode"])}, "scores": dict(record.get("scores") or {})}
        started = time.monotonic()
        outcome, text = polish.polish_one(engine, insight)
        seconds.append(time.monotonic() - started)
        if outcome is None:
            dropped += 1
            continue
        records.append({**record, "text": text, "polish": outcome, "draft": insight["text"]})
    print(f"polished {len(records)} ({Counter(r['polish'] for r in records)}), dropped {dropped}; "
          f"median {statistics.median(seconds):.1f} s per finalist")
    save(args.name, {"variant": args.name, "model": args.model, "from": args.source, "dropped": dropped,
                     "seconds_per_finalist": seconds, "insights": records})


def _title(name: str) -> str:
    return episode_meta(name)["title"]


def episode_meta(name: str) -> dict:
    return episode(name)[2]


def run_brief(args: argparse.Namespace) -> None:
    """A day's brief: the insights of `--episodes` (extracted now, or taken from the run `--from`), ranked,
    then the finalists polished, as `podbrief today` does."""
    import datetime as dt

    from rich.console import Console

    from podbrief import config as configmod
    from podbrief.engines import embed
    from podbrief.formats.transcripts import Transcript
    from podbrief.stages import extract as stage
    from podbrief.stages import polish, rank
    from podbrief.stages.today import POLISH_SPARE, _without_context
    from podbrief.store import Paths
    from podbrief.terminal import TerminalReporter

    names = args.episodes.split(",")
    source = json.loads((RUNS / f"{args.source}.json").read_text()) if args.source else None
    engine = None if source else _polish_engine(args.model, args.threads)
    pool, extract_seconds, audio, transcripts = [], 0.0, 0.0, {}
    for name in names:
        segments, duration, meta = episode(name)
        transcripts[name] = segments
        audio += duration
        if source:
            pool += [{**r["insight"], "text": relabelled(r["insight"]["text"])}
                     for r in source["insights"] if r["episode"] == name]
            continue
        started = time.monotonic()
        insights, _ = stage.extract(Transcript(segments, duration, "0" * 64, name), meta, engine,
                                    stage.wanted(duration, configmod.defaults()))
        extract_seconds += time.monotonic() - started
        pool += insights
        print(f"{name}: {len(insights)} insights", flush=True)
    with tempfile.TemporaryDirectory() as home:
        paths = Paths(Path(home))
        config = configmod.defaults()
        config["llm"]["polish_model"] = args.model
        now = dt.datetime(2024, 6, 2, tzinfo=dt.timezone.utc)
        finalists = rank.rank(pool, config, paths, now, embed.default(paths), spare=POLISH_SPARE)
        started = time.monotonic()
        items, report = polish.run(finalists, config, paths, TerminalReporter(Console(quiet=True)))
        polish_seconds = time.monotonic() - started
    records = []
    for item in map(_without_context, items):
        insight = item["insight"]
        name = insight["episode"]["id"]
        records.append({"episode": name, "text": insight["text"], "speaker": insight["speaker"],
                        "quote": insight["quote"]["text"], "rank": item["rank"], "draft": insight.get("draft"),
                        "related": [r["text"] for r in item["related"]],
                        "transcript": words_around(transcripts[name], insight["quote"]["start"],
                                                   insight["quote"]["end"])})
    if not source:
        print(f"extract {extract_seconds / audio * 3600:.0f} s per audio hour")
    print(f"polish {polish_seconds:.0f} s ({report.to_json()})")
    save(args.name, {"variant": args.name, "model": args.model, "episodes": names, "from": args.source,
                     "extract_seconds": extract_seconds, "audio_seconds": audio, "polish_seconds": polish_seconds,
                     "polish": report.to_json(), "insights": records})


# --- blind judging ----------------------------------------------------------------------------


def run_blind(args: argparse.Namespace) -> None:
    """One numbered, shuffled list of every insight of the given runs; the key to unshuffle it apart."""
    items = []
    for spec in args.runs:  # RUN, or RUN:N for its first N insights (anchors already judged in another list)
        name, _, count = spec.partition(":")
        run = json.loads((RUNS / f"{name}.json").read_text())
        items += [(name, i, r) for i, r in enumerate(run["insights"][:int(count or args.per_variant)])]
    random.Random(args.seed).shuffle(items)
    blind, key = [], []
    for number, (name, index, record) in enumerate(items, start=1):
        blind.append({"n": number, "insight": relabelled(record["text"]), "speaker": record["speaker"],
                      "quote": record["quote"], "transcript": record["transcript"]})
        key.append({"n": number, "variant": name, "index": index})
    Path(args.out).write_text(json.dumps(blind, indent=1, ensure_ascii=False))
    Path(args.out).with_suffix(".key.json").write_text(json.dumps(key, indent=1))
    print(f"{len(blind)} items -> {args.out} (key beside it)")


def relabelled(text: str) -> str:
    """The text as the writer's parser gives it since 2026-12-01.1's fix for labels written mid-line
    (" Reason: ...", " Topics: ..."): runs made before it kept such labels in the text."""
    return re.sub(r"\s+Reason:\s+", " ", re.split(r"\s+Topics?:\s", text)[0]).strip()


def judged_tables() -> None:
    """F/S/W/G per variant from every judged file: NAME.judged.WHO.json beside the blind list NAME.json and
    its key NAME.key.json (one list can be split between several judges)."""
    rows: dict[str, list[dict]] = {}
    first: dict[tuple[str, int], dict] = {}
    twice: list[tuple[dict, dict]] = []  # anchors: one insight judged in two lists, by two readers
    for path in sorted(JUDGED.glob("*.judged.*.json")):
        key = {k["n"]: k for k in json.loads((JUDGED / f"{path.name.split('.judged.')[0]}.key.json").read_text())}
        for grade in json.loads(path.read_text()):
            which = (key[grade["n"]]["variant"], key[grade["n"]]["index"])
            if which in first:
                twice.append((first[which], grade))
                continue
            first[which] = grade
            rows.setdefault(which[0], []).append(grade)
    if not rows:
        return
    print("\nJudged blind (QUALITY.md rubric)\n")
    print("| variant | n | faithful | self-contained | worth a minute | mean grade (1-5) | grade >= 4 |")
    print("|---|---|---|---|---|---|---|")
    for variant, grades in rows.items():
        n = len(grades)

        def share(field: str, marks: list[dict] = grades, count: int = n) -> str:
            return f"{100 * sum(int(g[field]) for g in marks) / count:.0f}%"

        grade_values = [float(g["G"]) for g in grades]
        print(f"| {variant} | {n} | {share('F')} | {share('S')} | {share('W')} | {statistics.mean(grade_values):.2f} "
              f"| {100 * sum(v >= 4 for v in grade_values) / n:.0f}% |")
    if twice:
        agree = {field: sum(a[field] == b[field] for a, b in twice) / len(twice) for field in "FSW"}
        gap = statistics.mean(abs(float(a["G"]) - float(b["G"])) for a, b in twice)
        print(f"\n{len(twice)} anchors judged by two readers: F agrees {100 * agree['F']:.0f}%, S {100 * agree['S']:.0f}%, "
              f"W {100 * agree['W']:.0f}%; mean grade difference {gap:.2f}")


# --- automatic figures ----------------------------------------------------------------------------


def opening(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower())[:3])


def auto_tables() -> None:
    from podbrief.extraction import grounding

    print("\nAutomatic figures\n")
    print("| variant | model | insights | per audio hour | s per audio hour | grounded | copy | "
          "top opening share | opens with the speaker's name | from intro/outro/ad/question |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(RUNS.glob("*.json")):
        run = json.loads(path.read_text())
        insights = run["insights"]
        if not insights or "timing" not in run:
            continue
        audio = sum(t["audio_seconds"] for t in run["timing"])
        seconds = sum(t["seconds"] for t in run["timing"])
        grounded = sum(grounding.unsupported(r["text"], r["transcript"], [r["speaker"]]) is None for r in insights)
        copies = sum(grounding.copy_ratio(r["text"], r["quote"]) > grounding.COPY_MAX for r in insights)
        top_open = Counter(opening(r["text"]) for r in insights).most_common(1)[0]
        edges = sum(_edge_role(r) for r in insights)
        named_first = sum(r["text"].lower().startswith(r["speaker"].lower()) for r in insights)
        n = len(insights)
        print(f"| {run['variant']} | {run['model']} | {n} | {n / audio * 3600:.1f} | {seconds / audio * 3600:.0f} | "
              f"{100 * grounded / n:.0f}% | {100 * copies / n:.0f}% | {100 * top_open[1] / n:.0f}% "
              f"('{top_open[0]}') | {100 * named_first / n:.0f}% | {100 * edges / n:.0f}% |")


_ROLES: dict[str, dict] = {}


def _edge_role(record: dict) -> bool:
    """Whether the insight's quote lies in a passage that podbrief's structure reading calls intro, outro,
    ad, question or highlight (the same reading for every variant)."""
    from podbrief.extraction import passages, structure

    name = record["episode"]
    if name not in _ROLES:
        segments, duration, meta = episode(name)
        cut = passages.build_passages(segments)
        _ROLES[name] = {"shaped": structure.shape(cut, duration, meta)}
    for item in _ROLES[name]["shaped"]:
        if item.passage.start <= record["start"] <= item.passage.end and record["quote"][:40] in item.passage.text:
            return item.role != "body"
    return False


# --- the verifier on the labelled set ---------------------------------------------------------------


LABELLED = ROOT / "benchmarks" / "faithfulness" / "set.json"


def word_rules(item: dict) -> str | None:
    """What the writer's word-level checks say of a labelled statement (None: it passes them)."""
    from podbrief.extraction import writer

    context = writer.Context(item["passage"], item["speaker"], item.get("question") or "", item.get("questioner"))
    statement = writer.lead_with_the_claim(item["statement"], item["speaker"])  # as the writer restates it
    return (writer.style_problem(statement, context)
            or writer.unsupported(statement, item["passage"], [item["speaker"]]))


def run_verifier(args: argparse.Namespace) -> None:
    from podbrief.extraction import writer

    items = json.loads(LABELLED.read_text())
    engine = _polish_engine(args.model, args.threads)
    results = []
    started = time.monotonic()
    for item in items:
        context = writer.Context(item["passage"], item["speaker"], item.get("question") or "", item.get("questioner"))
        results.append({"id": item["id"], "label": item["label"],
                        "p_yes": round(writer.verify(engine, context, item["statement"]), 4)})
    seconds = (time.monotonic() - started) / len(items)
    (HERE / f"verifier-{args.model}.json").write_text(json.dumps(results, indent=1))
    print(f"{len(items)} statements, {seconds:.1f} s per check")
    verifier_table(results, args.model)


def verifier_table(results: list[dict], model: str) -> None:
    """How well each check rejects the unfaithful statements of the labelled set (positive = rejected)."""
    from podbrief.extraction import writer

    items = {item["id"]: item for item in json.loads(LABELLED.read_text())}
    results = [{**r, "rule": word_rules(items[r["id"]])} for r in results]
    bad = [r["label"] != "faithful" for r in results]

    def row(name: str, reject: list[bool]) -> str:
        caught = sum(a and b for a, b in zip(reject, bad))
        kept = [not r for r in reject]
        faithful_kept = sum(k and not b for k, b in zip(kept, bad))
        return (f"| {name} | {100 * caught / max(sum(reject), 1):.0f}% | {100 * caught / sum(bad):.0f}% | "
                f"{100 * faithful_kept / (len(bad) - sum(bad)):.0f}% | {100 * faithful_kept / max(sum(kept), 1):.0f}% |")

    print(f"\nChecks on the labelled faithfulness set ({len(results)} statements, {model}; positive = rejected)\n")
    print("| check | precision | recall (unfaithful caught) | faithful kept | faithful share of what passes |")
    print("|---|---|---|---|---|")
    print(row("none", [False] * len(results)))
    rules = [bool(r["rule"]) for r in results]
    print(row("word rules (style, grounding, per-sentence support)", rules))
    for threshold in sorted({0.5, 0.6, 0.7, 0.8, writer.FAITHFUL_MIN}):
        model_only = [x["p_yes"] < threshold for x in results]
        used = " (used)" if threshold == writer.FAITHFUL_MIN else ""
        print(row(f"model P(yes) < {threshold}{used}", model_only))
        print(row(f"word rules or P(yes) < {threshold}{used}", [a or b for a, b in zip(rules, model_only)]))
    print(f"\n| label | n | mean P(yes) | caught by word rules | caught by P(yes) < {writer.FAITHFUL_MIN} |")
    print("|---|---|---|---|---|")
    for label in sorted({r["label"] for r in results}):
        group = [r for r in results if r["label"] == label]
        print(f"| {label} | {len(group)} | {statistics.mean(r['p_yes'] for r in group):.2f} | "
              f"{sum(bool(r['rule']) for r in group)} | {sum(r['p_yes'] < writer.FAITHFUL_MIN for r in group)} |")


def report() -> None:
    auto_tables()
    for path in sorted(HERE.glob("verifier-*.json")):
        verifier_table(json.loads(path.read_text()), path.stem.removeprefix("verifier-"))
    judged_tables()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    extract = sub.add_parser("extract")
    extract.add_argument("name")
    extract.add_argument("--model", default="qwen2.5-1.5b")
    extract.add_argument("--checkout", help="another checkout whose extractor to run (e.g. a worktree of ceb1dd1)")
    extract.add_argument("--episodes", default=",".join(EPISODES))
    extract.add_argument("--meetings", default=",".join(MEETINGS))
    extract.add_argument("--per-episode", type=int, default=PER_EPISODE)
    polish_cmd = sub.add_parser("polish")
    polish_cmd.add_argument("name")
    polish_cmd.add_argument("--from", dest="source", required=True)
    polish_cmd.add_argument("--model", default="qwen2.5-1.5b")
    polish_cmd.add_argument("--limit", type=int, default=48)
    brief = sub.add_parser("brief")
    brief.add_argument("name")
    brief.add_argument("--model", default="qwen2.5-1.5b")
    brief.add_argument("--episodes", default=",".join(BRIEF_DAY))
    brief.add_argument("--from", dest="source", help="take the insights from this run instead of extracting")
    blind = sub.add_parser("blind")
    blind.add_argument("runs", nargs="+")
    blind.add_argument("--out", required=True)
    blind.add_argument("--per-variant", type=int, default=48)
    blind.add_argument("--seed", type=int, default=7)
    verifier = sub.add_parser("verifier")
    verifier.add_argument("--model", default="qwen2.5-1.5b")
    for command in (extract, polish_cmd, brief, verifier):
        command.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.command is None:
        _repo_on_path(ROOT)
        report()
        return
    if os.environ.get("QUALITY_CHILD") != "1":
        _repo_on_path(ROOT)
    {"extract": run_extract, "polish": run_polish, "brief": run_brief, "blind": run_blind,
     "verifier": run_verifier}[args.command](args)


if __name__ == "__main__":
    main()
