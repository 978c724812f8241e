"""`podbrief rank`: order insights by a score computed in code, so every position can be explained.

The score is podbrief/ranking/score.py, the selection of the top podbrief/ranking/select.py;
this module is the stage: which insight files to rank, and what `rank` and `rank --explain` return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from podbrief.briefs import BriefItem
from podbrief.config import Config
from podbrief.engines import embed
from podbrief.errors import InputError, PartialFailure, PodbriefError, UsageError
from podbrief.formats import insights as insight_files
from podbrief.formats.insights import Insight, Loaded
from podbrief.ranking.score import Entry
from podbrief.ranking.select import Ranking, delivered_items, ranking
from podbrief.store import Paths


def find(paths: Paths, insight_id: str, extra: Iterable[Insight] = (),
         library: list[Insight] | None = None) -> Insight:
    """The insight whose id is (or uniquely starts with) `insight_id`: in `extra`, the data dir or a stored brief.

    `library` is the data dir's insights when the caller has already read them.
    """
    library = insight_files.load(paths).insights if library is None else library
    found: dict[str, Insight] = {}
    for insight in [*extra, *library, *(item["insight"] for item in delivered_items(paths, None))]:
        if insight["id"].startswith(insight_id):
            found.setdefault(insight["id"], insight)
    if insight_id in found:
        return found[insight_id]
    if len(found) > 1:
        more = " ..." if len(found) > 5 else ""
        raise UsageError(f"insight id {insight_id!r} is ambiguous: {', '.join(sorted(found)[:5])}{more}")
    if not found:
        raise UsageError(f"no insight with id {insight_id!r} in {paths.episodes_dir} or the stored briefs")
    return next(iter(found.values()))


def rank(insights: list[Insight], config: Config, paths: Paths, now: dt.datetime,
         embedder: embed.Embedder | None = None, date: dt.date | None = None, spare: int = 0) -> list[BriefItem]:
    """The brief items for `insights`, best first, with `spare` more finalists (the contract `today` uses)."""
    return [entry.item() for entry in ranking(insights, config, paths, now, embedder, date, spare=spare).top]


@dataclass
class Result:
    """`podbrief rank`: the ranking of the insight files that could be read, and the ones that could not."""

    ranking: Ranking
    loaded: Loaded

    def failure(self) -> PodbriefError | None:
        """INPUT when nothing could be read, PARTIAL when some files could not; None when all were fine."""
        problems = self.loaded.problems
        if not problems:
            return None
        if not self.loaded.insights:
            return InputError(problems[0] if len(problems) == 1 else
                              f"none of the insight files could be read ({len(problems)} problems, listed above)")
        return PartialFailure(f"{len(problems)} insight file(s) could not be read (listed above); the rest were ranked")


def run(paths: Paths, config: Config, targets: Sequence[Path], now: dt.datetime) -> Result:
    """Rank the insight files of `targets` (default: every episode in the data dir)."""
    loaded = insight_files.load(paths, targets)
    library = None if targets else loaded.insights  # no targets: the pool is the whole data dir
    return Result(ranking(loaded.insights, config, paths, now, library=library), loaded)


def explain(paths: Paths, config: Config, insight_id: str, targets: Sequence[Path], now: dt.datetime) -> Entry:
    """The score breakdown and fate of one insight, ranked among `targets` (default: the data dir)."""
    library = insight_files.load(paths).insights
    pool = insight_files.load(paths, targets).insights if targets else list(library)
    insight = find(paths, insight_id, pool, library)
    if all(other["id"] != insight["id"] for other in pool):
        pool.append(insight)
    return ranking(pool, config, paths, now, library=library).entries[insight["id"]]
