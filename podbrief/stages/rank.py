"""`podbrief rank`: order insights by a score computed in code, so every position can be explained.

An insight's score is the sum of the parts recorded in its `why`:

  interest  sum over `rank.interests` of weight x match (1 for a topic or a word of the
            text, up to 0.5 for a similar meaning by embedding)
  quality   mean of the insight's own surprise, specificity and actionability (0..1), and of the
            verifier's P(yes) that it is faithful where extract recorded one
  novelty   1, lowered towards 0 the closer it is to an insight already delivered
  recency   0.5 ** (age in days / `rank.recency_half_life_days`); 0 if the date is unknown
  feedback  -1..1 from `podbrief rate`: affinity to rated insights (same claim, similar
            text, shared topic, speaker or show) times their +1/-1
  avoid     -2 x the strongest match against `rank.avoid`

Then: insights delivered in an earlier brief (shown as a top item or merged into one; or a
near-duplicate of one by embedding) are suppressed; near-duplicates among the rest are merged (the better one stays and lists
the others in `duplicates`); `rank.per_show` and `rank.per_episode` are preferences for
variety, applied greedily down the order, that give way when too few shows or episodes
are new, so the brief holds `rank.top` items whenever that many exist; ties break on the insight id. Each top item gets up to
`rank.related` related insights from other episodes, this run's or earlier ones on disk, and a link to
the best item on its theme in an earlier brief (`earlier`: a thread, never a repeat), both chosen
by podbrief/related.py.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from podbrief import briefs, related
from podbrief.config import Config
from podbrief.engines import embed
from podbrief.errors import ConfigError, InputError, PartialFailure, PodbriefError, UsageError
from podbrief.store import Paths, atomic_write_json, expect_schema, read_json, short_hash, update_lock, utcnow

INSIGHTS_SCHEMA = "podbrief.insights/1"
RATINGS_SCHEMA = "podbrief.ratings/1"

# e5 cosine similarities, calibrated by benchmarks/related.py on tests/fixtures/related/. Related insights
# themselves are chosen by podbrief/related.py; RELATED is where novelty and feedback start to count closeness.
RELATED = 0.87  # same theme: best F1 of pairwise "related" decisions on the QMSum calibration set
DUPLICATE = 0.93  # same claim: between the crafted paraphrases (>= 0.94) and same-theme pairs (<= 0.92)
INTEREST_RAMP = (0.80, 0.86)  # interest (query) vs insight: no credit below, full semantic credit above
SEMANTIC_CREDIT = 0.5  # a match by meaning counts half of a topic or keyword match
AVOID_WEIGHT = 2.0
AFFINITY = {"topic": 0.5, "speaker": 0.3, "show": 0.2}  # how much a rating carries over by shared trait
QUALITY_SCORES = ("surprise", "specificity", "actionability")  # and "faithful" where extract measured it
# Files in an episode directory that are not insight files (skipped when ranking a directory).
EPISODE_FILES = {"episode.json", "transcript.json", "chapters.json", "publisher-transcript.json"}


# --- reading insight files -------------------------------------------------------------


def read_insight_file(path: Path) -> list[dict[str, Any]]:
    """The insights of one podbrief.insights/1 file, each with an `episode` block that has an id.

    Raises InputError naming the file when it is not JSON, another kind of file, or malformed.
    """
    data = expect_schema(read_json(path), INSIGHTS_SCHEMA, path, "podbrief insight file")
    items = data.get("insights")
    if not isinstance(items, list):
        raise InputError(f"{path}: corrupt insight file ('insights' is not a list)")
    # Loose files may have no episode id: all their insights then count as one episode.
    episode_id = data.get("episode_id") or short_hash(str(path.resolve()))
    insights = []
    for number, item in enumerate(items, start=1):
        problem = _insight_problem(item)
        if problem:
            raise InputError(f"{path}: corrupt insight file (insight {number}: {problem})")
        episode = dict(item.get("episode") or {})
        episode["id"] = episode.get("id") or episode_id
        insights.append({**item, "episode": episode})
    return insights


def _insight_problem(item: Any) -> str:
    if not isinstance(item, dict):
        return "not an object"
    if not isinstance(item.get("id"), str) or not re.fullmatch(r"[0-9a-f]+", item["id"]):
        return "'id' must be a hex string"
    if not isinstance(item.get("text"), str) or not item["text"].strip():
        return "'text' must be a non-empty string"
    if not isinstance(item.get("topics", []), list) or not all(isinstance(t, str) for t in item.get("topics", [])):
        return "'topics' must be a list of strings"
    scores = item.get("scores", {})
    if not isinstance(scores, dict) or not all(_is_number(v) for v in scores.values()):
        return "'scores' must map names to numbers"
    if not isinstance(item.get("episode", {}), (dict, type(None))):
        return "'episode' must be an object"
    if not isinstance(item.get("speaker"), (str, type(None))):
        return "'speaker' must be a string or null"
    if not _is_quote(item.get("quote", {})):
        return "'quote' must be an object with a text and times 0 <= start <= end"
    return ""


def _is_quote(quote: Any) -> bool:
    if not isinstance(quote, dict):
        return False
    times = [quote[key] for key in ("start", "end") if key in quote]
    return (isinstance(quote.get("text", ""), str) and isinstance(quote.get("link"), (str, type(None)))
            and all(_is_number(t) and t >= 0 for t in times) and times == sorted(times))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def insight_files(paths: Paths, targets: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The insight files to rank, and a problem line for each target that does not exist.

    No targets: every episodes/*/insights.json in the data dir. A directory: every *.json
    under it except the other per-episode files (episode.json, transcript.json, ...).
    """
    if not targets:
        return sorted(paths.episodes_dir.glob("*/insights.json")), []
    files: list[Path] = []
    problems: list[str] = []
    for target in targets:
        if target.is_dir():
            files += sorted(p for p in target.rglob("*.json") if p.name not in EPISODE_FILES)
        elif target.exists():
            files.append(target)
        else:
            problems.append(f"{target}: no such file or directory")
    return files, problems


@dataclass
class Loaded:
    insights: list[dict[str, Any]]
    problems: list[str]  # one line per file that could not be read, naming the file
    files: int  # insight files found


def load(paths: Paths, targets: Sequence[Path] = ()) -> Loaded:
    """Read the insight files of `targets` (default: the data dir); a bad file never stops the others."""
    files, problems = insight_files(paths, targets)
    insights: list[dict[str, Any]] = []
    for path in files:
        try:
            insights += read_insight_file(path)
        except InputError as exc:
            problems.append(str(exc))
    return Loaded(insights, problems, len(files))


def _library(paths: Paths) -> list[dict[str, Any]]:
    """Every readable insight in the data dir: the pool for related insights from earlier episodes.

    Unreadable files are skipped here; they are reported when their episode is ranked.
    """
    return load(paths).insights


def find(paths: Paths, insight_id: str, extra: Iterable[dict[str, Any]] = (),
         library: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The insight whose id is (or uniquely starts with) `insight_id`: in `extra`, the data dir or a stored brief.

    `library` is the data dir's insights when the caller has already read them.
    """
    library = _library(paths) if library is None else library
    found: dict[str, dict[str, Any]] = {}
    for insight in [*extra, *library, *(item["insight"] for item in _delivered_items(paths, None))]:
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


# --- history: delivered briefs and ratings -------------------------------------------------


def _delivered_items(paths: Paths, exempt: dt.date | None) -> list[dict[str, Any]]:
    """The items of every stored brief except the one dated `exempt`, each with its brief's date."""
    items = []
    for date in briefs.stored_dates(paths):
        if date != exempt:
            items += [{**item, "date": date.isoformat()} for item in briefs.load(paths, date)["items"]]
    return items


def load_ratings(paths: Paths) -> dict[str, dict[str, Any]]:
    """ratings.json: {insight id: {"rating": +1|-1, "rated_at", and the insight's text, topics, speaker, show}}."""
    path = paths.ratings_file
    if not path.exists():
        return {}
    data = read_json(path)
    ratings = data.get("ratings") if isinstance(data, dict) and data.get("schema") == RATINGS_SCHEMA else None
    if not isinstance(ratings, dict) or not all(
        isinstance(r, dict) and r.get("rating") in (1, -1) and isinstance(r.get("text"), str) for r in ratings.values()
    ):
        raise InputError(f"{path}: corrupt ratings file (expected schema {RATINGS_SCHEMA!r}); fix or delete it")
    return ratings


def rate(paths: Paths, insight: dict[str, Any], vote: int) -> None:
    """Record +1/-1 for `insight`, keeping what ranking needs even after its episode is deleted.

    Takes its own short lock rather than the run lock, so rating works while `today` runs.
    """
    with update_lock(paths.ratings_file):
        ratings = load_ratings(paths)
        ratings[insight["id"]] = {
            "rating": vote, "rated_at": utcnow(), "text": insight["text"], "topics": insight.get("topics") or [],
            "speaker": insight.get("speaker"), "show": (insight.get("episode") or {}).get("show"),
        }
        atomic_write_json(paths.ratings_file, {"schema": RATINGS_SCHEMA, "ratings": ratings})


# --- scoring ------------------------------------------------------------------------------


@dataclass
class Entry:
    """One insight's score, its breakdown and what became of it."""

    insight: dict[str, Any]
    why: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    status: str = ""
    rank: int | None = None
    duplicates: list[str] = field(default_factory=list)
    related: list[dict[str, Any]] = field(default_factory=list)
    earlier: list[dict[str, Any]] = field(default_factory=list)  # the theme in earlier briefs (related.earlier)

    @property
    def id(self) -> str:
        return str(self.insight["id"])

    def item(self) -> dict[str, Any]:
        """The brief item (schema podbrief.brief/1)."""
        return {"rank": self.rank, "score": self.score, "insight": self.insight, "why": self.why,
                "reasons": self.reasons, "duplicates": self.duplicates, "related": self.related,
                "earlier": self.earlier}


@dataclass
class Ranking:
    top: list[Entry]  # best first, at most rank.top
    entries: dict[str, Entry]  # every ranked insight by id, with its status


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _ramp(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


def _match(term: str, insight: dict[str, Any], similarity: float) -> tuple[float, str]:
    """How strongly an interest/avoid term matches: 1 for a topic or a word in the text, else by meaning."""
    term = _norm(term)
    if any(topic in (term, term + "s") or term == topic + "s" for topic in map(_norm, insight.get("topics") or [])):
        return 1.0, "topic"
    if re.search(rf"\b{re.escape(term)}s?\b", _norm(insight["text"])):
        return 1.0, "in the text"
    strength = SEMANTIC_CREDIT * _ramp(similarity, *INTEREST_RAMP)
    return (strength, f"similar meaning {similarity:.2f}") if strength else (0.0, "")


def _published(insight: dict[str, Any]) -> dt.datetime | None:
    stamp = (insight.get("episode") or {}).get("published")
    try:
        moment = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _show(insight: dict[str, Any]) -> str:
    episode = insight.get("episode") or {}
    return str(episode.get("show") or episode["id"])


def _weights(interests: dict[Any, Any]) -> dict[str, float]:
    if not all(_is_number(weight) for weight in interests.values()):
        raise ConfigError(f"rank.interests: every weight must be a number, got {interests!r}")
    return {str(term): float(weight) for term, weight in interests.items()}


class _Scorer:
    """Everything the score of one insight depends on, embedded once."""

    def __init__(self, settings: dict[str, Any], now: dt.datetime, embedder: embed.Embedder,
                 shown: list[dict[str, Any]], ratings: dict[str, dict[str, Any]]):
        self.settings = settings
        self.now = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
        self.shown = shown
        self.interests = _weights(settings["interests"])
        self.avoid = [str(term) for term in settings["avoid"]]
        terms = [*self.interests, *self.avoid]
        self.term_vectors = embedder.queries(terms)
        self.shown_vectors = embedder.passages([item["insight"].get("text") or "" for item in shown])
        self.rated = list(ratings.items())
        self.rated_vectors = embedder.passages([rating["text"] for _, rating in self.rated])

    def score(self, insights: list[dict[str, Any]], vectors: np.ndarray) -> list[Entry]:
        term_sims = vectors @ self.term_vectors.T
        shown_sims = vectors @ self.shown_vectors.T
        rated_sims = vectors @ self.rated_vectors.T
        entries = []
        for row, insight in enumerate(insights):
            entry = Entry(insight)
            parts = (
                ("interest", self._interest(insight, term_sims[row, :len(self.interests)])),
                ("quality", self._quality(insight)),
                ("novelty", self._novelty(shown_sims[row])),
                ("recency", self._recency(insight)),
                ("feedback", self._feedback(insight, rated_sims[row])),
                ("avoid", self._avoid(insight, term_sims[row, len(self.interests):])),
            )
            for name, (value, reasons) in parts:
                entry.why[name] = round(value, 4)
                entry.reasons += reasons
            entry.score = round(sum(entry.why.values()), 4)
            entries.append(entry)
        return entries

    def _interest(self, insight: dict[str, Any], sims: np.ndarray) -> tuple[float, list[str]]:
        total, reasons = 0.0, []
        for (term, weight), similarity in zip(self.interests.items(), sims):
            strength, how = _match(term, insight, float(similarity))
            if strength:
                total += weight * strength
                reasons.append(f"interest {term!r} ({how}): {weight * strength:+.2f}")
        return total, reasons

    def _avoid(self, insight: dict[str, Any], sims: np.ndarray) -> tuple[float, list[str]]:
        matches = [(*_match(term, insight, float(s)), term) for term, s in zip(self.avoid, sims)]
        strength, how, term = max(matches, default=(0.0, "", ""))
        if not strength:
            return 0.0, []
        return -AVOID_WEIGHT * strength, [f"avoid {term!r} ({how}): {-AVOID_WEIGHT * strength:+.2f}"]

    @staticmethod
    def _quality(insight: dict[str, Any]) -> tuple[float, list[str]]:
        scores = insight.get("scores") or {}
        names = QUALITY_SCORES + (("faithful",) if "faithful" in scores else ())
        values = [min(1.0, max(0.0, float(scores.get(name, 0.0)))) for name in names]
        return sum(values) / len(values), []

    def _novelty(self, sims: np.ndarray) -> tuple[float, list[str]]:
        if not len(sims):
            return 1.0, []
        nearest = int(np.argmax(sims))
        closeness = _ramp(float(sims[nearest]), RELATED, DUPLICATE)
        if not closeness:
            return 1.0, []
        shown = self.shown[nearest]
        reason = (f"close to {shown['insight']['id']}, delivered {shown['date']} "
                  f"(similarity {sims[nearest]:.2f}): {-closeness:+.2f}")
        return 1.0 - closeness, [reason]

    def _recency(self, insight: dict[str, Any]) -> tuple[float, list[str]]:
        half_life = self.settings["recency_half_life_days"]
        if not half_life:
            return 1.0, []
        published = _published(insight)
        if published is None:
            return 0.0, ["recency: no publish date"]
        age = max(0.0, (self.now - published).total_seconds() / 86400)
        return 0.5 ** (age / half_life), []

    def _feedback(self, insight: dict[str, Any], sims: np.ndarray) -> tuple[float, list[str]]:
        total, reasons = 0.0, []
        topics = {_norm(t) for t in insight.get("topics") or []}
        for (rated_id, rating), similarity in zip(self.rated, sims):
            traits = [(1.0 if rated_id == insight["id"] else _ramp(float(similarity), RELATED, DUPLICATE),
                       f"similarity {similarity:.2f}")]
            if topics & {_norm(t) for t in rating["topics"]}:
                traits.append((AFFINITY["topic"], "shared topic"))
            if insight.get("speaker") and insight.get("speaker") == rating.get("speaker"):
                traits.append((AFFINITY["speaker"], "same speaker"))
            if rating.get("show") and rating.get("show") == (insight.get("episode") or {}).get("show"):
                traits.append((AFFINITY["show"], "same show"))
            affinity, how = max(traits)
            if affinity:
                total += rating["rating"] * affinity
                vote = "up" if rating["rating"] > 0 else "down"
                reasons.append(f"{vote}-voted {rated_id} ({how}): {rating['rating'] * affinity:+.2f}")
        return max(-1.0, min(1.0, total)), reasons


def _near_neighbours(vectors: np.ndarray, threshold: float, block: int = 1024) -> list[list[int]]:
    """For each row, the other rows at cosine >= threshold (computed in blocks to bound memory)."""
    neighbours: list[list[int]] = [[] for _ in range(len(vectors))]
    for start in range(0, len(vectors), block):
        rows, cols = np.nonzero(vectors[start:start + block] @ vectors.T >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist()):
            if start + row != col:
                neighbours[start + row].append(col)
    return neighbours


def ranking(insights: list[dict[str, Any]], config: Config, paths: Paths, now: dt.datetime,
            embedder: embed.Embedder | None = None, date: dt.date | None = None,
            library: list[dict[str, Any]] | None = None, spare: int = 0) -> Ranking:
    """Score, filter, merge, cap and group `insights`; see the module docstring.

    `spare` finalists are ranked past rank.top (for the brief's polish to promote).
    `date` is the brief being made (default: `now`'s local date): its stored version does
    not count as delivered, so a brief can be regenerated. `library` is every insight in
    the data dir (the pool for related insights), read here unless the caller has it.
    """
    settings = config["rank"]
    embedder = embedder or embed.default(paths)
    pool = list({insight["id"]: insight for insight in reversed(insights)}.values())[::-1]  # first of each id
    shown = _delivered_items(paths, date or now.astimezone().date())
    delivered = {item["insight"]["id"]: item["date"] for item in shown}
    delivered.update({dup: item["date"] for item in shown for dup in item.get("duplicates") or []})
    vectors = embedder.passages([insight["text"] for insight in pool])
    scorer = _Scorer(settings, now, embedder, shown, load_ratings(paths))
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
        library = _library(paths) if library is None else library
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
        show, episode = _show(entry.insight), entry.insight["episode"]["id"]
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


def _attach_related(top: list[Entry], pool: list[dict[str, Any]], vectors: np.ndarray,
                    library: list[dict[str, Any]], embedder: embed.Embedder, limit: int) -> None:
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


def rank(insights: list[dict[str, Any]], config: Config, paths: Paths, now: dt.datetime,
         embedder: embed.Embedder | None = None, date: dt.date | None = None, spare: int = 0) -> list[dict[str, Any]]:
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
    loaded = load(paths, targets)
    library = None if targets else loaded.insights  # no targets: the pool is the whole data dir
    return Result(ranking(loaded.insights, config, paths, now, library=library), loaded)


def explain(paths: Paths, config: Config, insight_id: str, targets: Sequence[Path], now: dt.datetime) -> Entry:
    """The score breakdown and fate of one insight, ranked among `targets` (default: the data dir)."""
    library = _library(paths)
    pool = load(paths, targets).insights if targets else list(library)
    insight = find(paths, insight_id, pool, library)
    if all(other["id"] != insight["id"] for other in pool):
        pool.append(insight)
    return ranking(pool, config, paths, now, library=library).entries[insight["id"]]
