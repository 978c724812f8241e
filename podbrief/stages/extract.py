"""`podbrief extract`: transcript.json -> insights.json, grounded insights from a local LLM.

Per episode: name the speakers, cut the transcript into ~150-word passages, pick the
best spread over the episode (no model), rewrite them one at a time into insights
(podbrief.extraction.writer), drop copies and anything the passage does not support,
and attach a verbatim quote found in the transcript with its times. The whole
transcript is always cut into passages, whatever its length: nothing is truncated.
See docs/extract.md for the design and its measurements.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podbrief import model_registry
from podbrief.config import Config
from podbrief.engines import embed
from podbrief.errors import InputError, ModelError, PodbriefError
from podbrief.extraction import grounding, labels, passages, speakers, structure, writer
from podbrief.formats import transcripts
from podbrief.formats.documents import CHAPTERS_FILE, EPISODE, INSIGHTS, TRANSCRIPT
from podbrief.formats.transcripts import Transcript
from podbrief.progress import Reporter
from podbrief.stages import Budget, StageReport
from podbrief.store import Index, Paths, atomic_write_json, read_json, short_hash, utcnow

ATTEMPTS_PER_INSIGHT = 2  # candidate passages tried per wanted insight, at most: bounds the time per episode
DROP_REASONS = ("invalid", "style", "copy", "ungrounded", "unfaithful")
log = logging.getLogger(__name__)


def wanted(duration: float, config: Config) -> int:
    """How many insights an episode gets: insights_per_hour, at least min_insights."""
    settings = config["extract"]
    return max(int(settings["min_insights"]), round(settings["insights_per_hour"] * duration / 3600))


@dataclass
class Stats:
    passages: int = 0
    roles: dict[str, int] = field(default_factory=dict)  # passages per role (body, intro, question, ...)
    candidates: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # attempts dropped, by reason (DROP_REASONS)
    retries: int = 0
    seconds: float = 0.0
    drops: list[str] = field(default_factory=list)  # one line per dropped attempt, for --debug and the benchmark

    def to_json(self) -> dict[str, Any]:
        return {"passages": self.passages, "roles": self.roles, "candidates": self.candidates, "kept": self.kept,
                "dropped": {reason: self.dropped.get(reason, 0) for reason in DROP_REASONS},
                "retries": self.retries, "seconds": round(self.seconds, 1)}


def extract(transcript: Transcript, episode: dict[str, Any] | None, engine: writer.Engine, count: int,
            chapters: Sequence[dict[str, Any]] = ()) -> tuple[list[dict[str, Any]], Stats]:
    """Up to `count` grounded, verified insights from a transcript, in episode order, with what was dropped and why."""
    started = time.monotonic()
    names = speakers.name_speakers(transcript.segments, episode)
    cut = passages.build_passages(transcript.segments)
    shaped = structure.shape(cut, transcript.duration, episode, chapters)
    candidates = structure.select(shaped, count, transcript.duration)[:count * ATTEMPTS_PER_INSIGHT]
    stats = Stats(passages=len(cut), roles=dict(Counter(item.role for item in shaped)))
    log.debug("%d segments, %.0f s -> %d passages %s (%d candidates); want %d insights",
              len(transcript.segments), transcript.duration, len(cut), stats.roles, len(candidates), count)
    log.debug("speakers: %s; hosts: %s", names, sorted({names[s.passage.speaker] for s in shaped if s.by_host}))
    insights: list[dict[str, Any]] = []
    for item in candidates:
        if len(insights) >= count:
            break
        stats.candidates += 1
        insight = _attempt(item, names, engine, episode, transcript.episode_id, stats)
        if insight is not None:
            insights.append(insight)
    stats.kept = len(insights)
    stats.seconds = time.monotonic() - started
    insights.sort(key=lambda insight: insight["quote"]["start"])
    return insights, stats


def context_of(item: structure.Shaped, names: dict[str | None, str], episode: dict[str, Any] | None) -> writer.Context:
    """What the writer sees for one passage: the answer, its speaker, the question and the episode title."""
    questioner = names.get(item.questioner) if item.question else None
    return writer.Context(item.passage.text, names[item.passage.speaker], item.question, questioner,
                          (episode or {}).get("title"))


def _attempt(item: structure.Shaped, names: dict[str | None, str], engine: writer.Engine,
             episode: dict[str, Any] | None, episode_id: str | None, stats: Stats) -> dict[str, Any] | None:
    """One passage -> an insight, retrying once after an unusable reply; None when dropped."""
    passage = item.passage
    context = context_of(item, names, episode)
    where = f"passage {passage.index} [{passage.start:.0f}-{passage.end:.0f} s, {passage.words} words, {context.speaker}]"
    for retry in (False, True):
        stats.retries += retry
        try:
            draft = writer.write(engine, context, retry=retry)
        except writer.Rejected as rejected:
            if retry:
                _drop(stats, rejected.reason, f"{where}: {rejected}")
            continue
        problem = writer.unsupported(draft.text, passage.text, list(names.values()))
        quote = grounding.locate(grounding.choose_quote(draft.text, passage.text), passage.segments)
        if problem or quote is None:
            _drop(stats, "ungrounded", f"{where}: {problem or 'no quote found in the transcript'}: {draft.text!r}")
            return None
        if draft.faithful < writer.FAITHFUL_MIN:
            _drop(stats, "unfaithful", f"{where}: the check finds it unfaithful (P(yes) {draft.faithful:.2f}): "
                                       f"{draft.text!r}")
            return None
        each = writer.verify_each(engine, context, draft.text)
        log.debug("%s: kept (P(yes) %.2f, each sentence >= %.2f) %r", where, draft.faithful, each, draft.text)
        return _insight(draft, each, context, item, quote, episode, episode_id)
    return None


def _drop(stats: Stats, reason: str, line: str) -> None:
    stats.dropped[reason] = stats.dropped.get(reason, 0) + 1
    stats.drops.append(line)
    log.debug("dropped (%s) %s", reason, line)


def _insight(draft: writer.Draft, each: float, context: writer.Context, item: structure.Shaped,
             quote: grounding.Quote, episode: dict[str, Any] | None, episode_id: str | None) -> dict[str, Any]:
    episode = episode or {}
    url = (episode.get("enclosure") or {}).get("url")
    kind = labels.kind_of(draft.text, context.speaker)
    return {
        "id": short_hash(episode_id or "", f"{quote.start:.2f}", draft.text),
        "text": draft.text,
        "speaker": context.speaker,
        "quote": {"text": quote.text, "start": round(quote.start, 2), "end": round(quote.end, 2),
                  "link": f"{url}#t={int(quote.start)}" if url else None},
        "kind": kind,
        "topics": draft.topics,
        "scores": {**labels.scores(draft.text, quote.text, kind, context.speaker), "faithful": round(draft.faithful, 3),
                   "faithful_each": round(each, 3)},
        "context": {"answer": context.answer, "following": item.following, "question": context.question,
                    "questioner": context.questioner,
                    "start": round(item.passage.start, 2), "end": round(item.passage.end, 2),
                    "highlighted": item.highlighted},
        "episode": {"id": episode_id, "title": episode.get("title"), "show": episode.get("show"),
                    "published": episode.get("published")},
    }


def summary(stats: dict[str, Any]) -> str:
    dropped = ", ".join(f"{count} {reason}" for reason, count in stats["dropped"].items() if count) or "none"
    kept, cut = stats["kept"], stats["passages"]
    return (f"{kept} insight{'' if kept == 1 else 's'} from {cut} passage{'' if cut == 1 else 's'} "
            f"in {stats['seconds']:.0f} s (dropped: {dropped})")


# --- files and caching ------------------------------------------------------------------


def _settings(config: Config) -> dict[str, Any]:
    return {key: config["extract"][key] for key in ("insights_per_hour", "min_insights")}


def up_to_date(out: Path, transcript_sha256: str, model_sha256: str | None, config: Config) -> bool:
    """Whether `out` was made from this transcript with this model, prompt version and settings."""
    if not out.exists():
        return False
    try:
        data = read_json(out)
    except InputError:
        return False
    return (isinstance(data, dict) and data.get("schema") == INSIGHTS.schema
            and data.get("transcript_sha256") == transcript_sha256
            and (data.get("model") or {}).get("sha256") == model_sha256
            and data.get("prompt_version") == writer.PROMPT_VERSION
            and data.get("settings") == _settings(config))


class Engines:
    """Loads the configured LLM at most once per run, and only when some episode needs it."""

    def __init__(self, paths: Paths, config: Config):
        self.paths, self.config = paths, config
        self._model: model_registry.ResolvedModel | None = None
        self._engine: Any = None

    def model(self) -> model_registry.ResolvedModel:
        if self._model is None:
            self._model = model_registry.resolve("llm", self.config["llm"]["model"], self.paths)
        return self._model

    def get(self) -> Any:
        if self._engine is None:
            from podbrief.engines.llm import LLM

            settings = self.config["llm"]
            self._engine = LLM(self.model(), self.paths, settings["threads"], settings["context_size"],
                               settings["gpu_layers"])
            log.debug("loaded %s (%s) with %d threads, context %d", self._engine.name, self.model().path,
                      self._engine.threads, self._engine.context_size)
        return self._engine

    def sha256(self) -> str | None:
        """The model's hash; a hub model must be loaded (downloaded) to know it."""
        return self.model().sha256 or self.get().sha256


def read_chapters(path: Path) -> list[dict[str, Any]]:
    """The chapters of a Podcasting 2.0 chapters.json beside a transcript; [] when there is none or it is unusable
    (chapters only guide selection, so a bad file must not fail the episode)."""
    try:
        data = read_json(path) if path.is_file() else None
    except InputError:
        return []
    chapters = data.get("chapters") if isinstance(data, dict) else None
    if not isinstance(chapters, list):
        return []
    return [c for c in chapters if isinstance(c, dict) and isinstance(c.get("startTime"), (int, float))
            and not isinstance(c.get("startTime"), bool) and math.isfinite(c["startTime"])]


def document(transcript: Transcript, engines: Engines, config: Config, episode: dict[str, Any] | None,
             chapters: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Extract one transcript into a podbrief.insights/1 document."""
    engine = engines.get()
    insights, stats = extract(transcript, episode, engine, wanted(transcript.duration, config), chapters)
    return {
        "schema": INSIGHTS.schema,
        "episode_id": transcript.episode_id,
        "transcript_sha256": transcript.sha256,
        "model": {"name": engine.name, "sha256": engine.sha256},
        "prompt_version": writer.PROMPT_VERSION,
        "settings": _settings(config),
        "created": utcnow(),
        "stats": stats.to_json(),
        "insights": insights,
    }


def extract_file(transcript_path: Path, out: Path, engines: Engines, config: Config,
                 episode: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Extract one transcript into `out` (atomically); returns the document, or None when `out` is up to date."""
    transcript = transcripts.load(transcript_path)
    if up_to_date(out, transcript.sha256, engines.sha256(), config):
        return None
    made = document(transcript, engines, config, episode, read_chapters(transcript_path.parent / CHAPTERS_FILE))
    atomic_write_json(out, made)
    return made


def extract_loose(transcript_path: Path, out: Path | None, config: Config, paths: Paths) -> dict[str, Any]:
    """`podbrief extract transcript.json [-o insights.json]`. An episode.json beside the transcript
    supplies speaker names, titles and the audio link."""
    beside = transcript_path.parent / EPISODE.file
    episode = read_json(beside) if beside.is_file() else None
    if episode is not None and (not isinstance(episode, dict) or episode.get("schema") != EPISODE.schema):
        raise InputError(f"{beside}: not a podbrief episode file")
    engines = Engines(paths, config)
    if out is None:
        return document(transcripts.load(transcript_path), engines, config, episode,
                        read_chapters(transcript_path.parent / CHAPTERS_FILE))
    return extract_file(transcript_path, out, engines, config, episode) or read_json(out)


def run_pending(paths: Paths, config: Config, reporter: Reporter, budget: Budget = Budget(),
                episode_ids: list[str] | None = None, embedder: embed.Embedder | None = None) -> StageReport:
    """Extract insights for the pending episodes (or `episode_ids`); one bad episode never stops the others.
    The new insights are embedded into rank's cache at the end (`embedder`, default embed.default: a CachedEmbedder
    on that cache), so even a large library ranks warm."""
    report = StageReport("extract")
    engines = Engines(paths, config)
    written: list[str] = []
    with Index(paths) as index:
        ids = episode_ids if episode_ids is not None else [row["id"] for row in index.pending("extract")]
        for episode_id in ids:
            if budget.exhausted():
                report.remaining += 1
                continue
            try:
                episode = read_json(paths.episode_file(episode_id, EPISODE))
                reporter.say("start", f"extract {episode.get('title') or episode_id} ...")
                made = extract_file(paths.episode_file(episode_id, TRANSCRIPT), paths.episode_file(episode_id, INSIGHTS),
                                    engines, config, episode)
            except ModelError:
                raise  # the model, not the episode, is at fault: stop instead of failing every episode
            except PodbriefError as exc:
                index.mark_failed(episode_id, "extract", str(exc))
                report.failed[episode_id] = str(exc)
                reporter.say("failed", str(exc))
                continue
            index.mark_done(episode_id, "extract")
            if made is None:
                report.skipped += 1
                reporter.say("done", "up to date")
            else:
                report.done.append(episode_id)
                written += [insight["text"] for insight in made["insights"]]
                reporter.say("done", summary(made["stats"]))
    if not budget.exhausted():  # out of time: rank embeds them instead
        _embed(written, embedder, paths, reporter)
    return report


def _embed(texts: list[str], embedder: embed.Embedder | None, paths: Paths, reporter: Reporter) -> None:
    """Embed new insight texts while extract holds the cores (about 30 ms a text next to seconds of LLM per
    insight). The cache is derived data: when this fails, rank embeds them instead."""
    if not texts:
        return
    try:
        (embedder or embed.default(paths)).passages(texts)
    except (PodbriefError, OSError) as exc:
        reporter.say("warning", f"insights not embedded yet ({exc}); rank will embed them")
