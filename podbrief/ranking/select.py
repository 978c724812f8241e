"""From scores to the top of the brief: suppress what was delivered, merge near-duplicates, prefer
variety, then attach related insights and the thread to earlier briefs.

Insights delivered in an earlier brief (shown as a top item or merged into one; or a near-duplicate
of one by embedding) are suppressed; near-duplicates among the rest are merged (the better one stays
and lists the others in `duplicates`); `rank.per_show` and `rank.per_episode` are preferences for
variety, applied greedily down the order, that give way when too few shows or episodes are new, so
the brief holds `rank.top` items whenever that many exist; ties break on the insight id. Each top item
gets up to `rank.related` related insights from other episodes, this run's or earlier ones on disk,
and a link to the best item on its theme in an earlier brief (`earlier`: a thread, never a repeat),
both chosen by podbrief/related.py.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from podbrief import briefs, related
from podbrief.briefs import DeliveredItem
from podbrief.config import Config
from podbrief.engines import embed
from podbrief.formats import insights as insight_files
from podbrief.formats.insights import Insight
from podbrief.ranking import ratings
from podbrief.ranking.score import DUPLICATE, Entry, Scorer, show_of
from podbrief.store import Paths


@dataclass
class Ranking:
    top: list[Entry]  # best first, at most rank.top
    entries: dict[str, Entry]  # every ranked insight by id, with its status


def delivered_items(paths: Paths, exempt: dt.date | None) -> list[DeliveredItem]:
    """The items of every stored brief except the one dated `exempt`, each with its brief's date."""
    items: list[DeliveredItem] = []
    for date in briefs.stored_dates(paths):
        if date != exempt:
            items += [cast(DeliveredItem, {**item, "date": date.isoformat()}) for item in briefs.load(paths, date)["items"]]
    return items


def _near_neighbours(vectors: np.ndarray, threshold: float, block: int = 1024) -> list[list[int]]:
    """For each row, the other rows at cosine >= threshold (computed in blocks to bound memory)."""
    neighbours: list[list[int]] = [[] for _ in range(len(vectors))]
    for start in range(0, len(vectors), block):
        rows, cols = np.nonzero(vectors[start:start + block] @ vectors.T >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist()):
            if start + row != col:
                neighbours[start + row].append(col)
    return neighbours


def ranking(insights: list[Insight], config: Config, paths: Paths, now: dt.datetime,
            embedder: embed.Embedder | None = None, date: dt.date | None = None,
            library: list[Insight] | None = None, spare: int = 0) -> Ranking:
    """Score, filter, merge, cap and group `insights`; see the module docstring.

    `spare` finalists are ranked past rank.top (for the brief's polish to promote).
    `date` is the brief being made (default: `now`'s local date): its stored version does
    not count as delivered, so a brief can be regenerated. `library` is every insight in
    the data dir (the pool for related insights), read here unless the caller has it.
    """
    settings = config["rank"]
    embedder = embedder or embed.default(paths)
    pool = list({insight["id"]: insight for insight in reversed(insights)}.values())[::-1]  # first of each id
    shown = delivered_items(paths, date or now.astimezone().date())
    delivered = {item["insight"]["id"]: item["date"] for item in shown}
    delivered.update({dup: item["date"] for item in shown for dup in item.get("duplicates") or []})
    vectors = embedder.passages([insight["text"] for insight in pool])
    scorer = Scorer(settings, now, embedder, shown, ratings.load(paths))
    entries = scorer.score(pool, vectors)

    candidates = []
    for index, entry in enumerate(entries):
        if entry.id in delivered:
            entry.status = f"suppressed: already delivered in the brief of {delivered[entry.id]}"
        elif entry.why["novelty"] == 0.0:
            entry.status = "suppressed: a near-duplicate of a delivered insight (see novelty)"
        else:
            candidates.append(index)
    candidates.sort(key=lambda i: (-entries[i].score, entries[i].id))

    # Greedy merge down the order: an insight near a better one joins that one's group.
    neighbours = _near_neighbours(vectors, DUPLICATE)
    group_of: dict[int, int] = {}  # candidate row -> row of the entry that represents its group
    kept = []
    for index in candidates:
        keeper = next((group_of[n] for n in neighbours[index] if n in group_of), index)
        group_of[index] = keeper
        if keeper == index:
            kept.append(entries[index])
        else:
            entries[keeper].duplicates.append(entries[index].id)
            entries[index].status = f"merged into {entries[keeper].id}: a near-duplicate that ranks higher"

    top = _cap(kept, settings, settings["top"] + spare if settings["top"] else 0)
    rows = {insight["id"]: row for row, insight in enumerate(pool)}
    for entry in top:
        entry.earlier = related.earlier(entry.insight, vectors[rows[entry.id]], shown, scorer.shown_vectors)
    if top and settings["related"]:
        library = insight_files.load(paths).insights if library is None else library
        _attach_related(top, pool, vectors, library, embedder, settings["related"])
    return Ranking(top, {entry.id: entry for entry in entries})


def _cap(kept: list[Entry], settings: dict[str, Any], top_size: int) -> list[Entry]:
    """Walk down the order taking items until rank.top, preferring variety: an item over rank.per_show or
    rank.per_episode (0 = no preference) waits, and the waiting items fill what is left of the top
    in order, so a brief holds rank.top items whenever that many exist (one new episode, one show)."""
    limit = top_size or len(kept)
    top: list[Entry] = []
    waiting: list[Entry] = []
    per_show: Counter[str] = Counter()
    per_episode: Counter[str] = Counter()
    for entry in kept:
        show, episode = show_of(entry.insight), entry.insight["episode"]["id"]
        if settings["per_episode"] and per_episode[episode] >= settings["per_episode"]:
            entry.status = f"waiting: rank.per_episode = {settings['per_episode']} already reached for its episode"
            waiting.append(entry)
        elif settings["per_show"] and per_show[show] >= settings["per_show"]:
            entry.status = f"waiting: rank.per_show = {settings['per_show']} already reached for its show"
            waiting.append(entry)
        elif len(top) >= limit:
            entry.status = f"below the top {limit}"
        else:
            top.append(entry)
            per_show[show] += 1
            per_episode[episode] += 1
    for entry in waiting:  # they rank after the varied picks, in their own order
        if len(top) < limit:
            entry.status += "; taken to fill the top, as too few other episodes or shows had insights"
            top.append(entry)
        else:
            entry.status = entry.status.replace("waiting", "skipped", 1)
    for number, entry in enumerate(top, start=1):
        entry.rank = number
        entry.status = f"rank {number}" + (f" ({entry.status})" if entry.status.startswith("waiting") else "")
    return top


def _attach_related(top: list[Entry], pool: list[Insight], vectors: np.ndarray,
                    library: list[Insight], embedder: embed.Embedder, limit: int) -> None:
    """Give each top item up to `limit` related insights (podbrief/related.py) from other episodes,
    from `pool` or, for earlier episodes, the `library`."""
    known = {insight["id"] for insight in pool}
    earlier = [insight for insight in library if insight["id"] not in known]
    others = pool + earlier
    other_vectors = np.concatenate([vectors, embedder.passages([i["text"] for i in earlier])]) if earlier else vectors
    excluded = {entry.id for entry in top} | {dup for entry in top for dup in entry.duplicates}
    excluded |= {link["id"] for entry in top for link in entry.earlier}  # already linked as the thread
    by_id = {insight["id"]: row for row, insight in enumerate(others)}
    for entry in top:
        entry.related = related.choose(entry.insight, other_vectors[by_id[entry.id]], others, other_vectors,
                                       excluded, limit, DUPLICATE)
