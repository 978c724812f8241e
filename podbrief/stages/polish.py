"""Brief-time polish: the few finalists that reach the reader are rewritten and verified again.

Only `rank.top` items reach the reader, so they can afford what the bulk of extraction
cannot: `llm.polish_model` (by default the best offline model; any GGUF or hub id a
user has, such as a 7B) rewrites each finalist from the answer it came from, with the
question and the speaker's next words as wider context, into the style of
docs/extract.md (the idea, its reason, why it matters), and the same model checks the
result. A finalist whose rewrite fails the checks keeps its extracted text if that
passes the check; one that passes neither is dropped and the next finalist is promoted.
The cost is per brief, not per audio hour. The same model then marks the stance of the
finalists' related insights, where podbrief/related.py's check is confident enough.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from podbrief import model_registry, related
from podbrief.briefs import BriefItem
from podbrief.config import Config
from podbrief.extraction import grounding, passages, writer
from podbrief.extraction.speakers import GENERIC_NAME
from podbrief.formats.insights import Insight
from podbrief.progress import Reporter
from podbrief.stages import Budget
from podbrief.store import Paths

POLISH = ("Here is a draft item about {name}'s answer: \"{text}\"\nRewrite it for a newsletter read by busy people, "
          "in 2 or 3 sentences and at most 60 words. Start with the idea itself, stated plainly as a claim (set it "
          "against a common belief only if {name} does). Then give the reason, example or number {name} offers, and "
          "end with why it matters only if {name} says so. Mention {name} by name once, but not as the first words. "
          "Use only what {name} says.")
MIN_SHARE = 0.8  # a rewrite under this share of the draft's words has lost its reason
# A rewrite's sentence with at least this share of content words new to the draft is an added sentence: it must be
# as well supported by the answer as a whole insight (grounding.MIN_SUPPORT), not merely share a third of its words
# (writer.SENTENCE_SUPPORT). Seen: the draft kept whole, then "This matters because it ensures ..." appended.
ADDED_SHARE = 0.5
log = logging.getLogger(__name__)


@dataclass
class Report:
    """What polish did to the finalists, for the brief's record and --debug."""

    model: str = ""
    rewritten: int = 0
    kept: int = 0  # finalists whose rewrite failed but whose extracted text passed the check
    dropped: int = 0  # finalists that failed both: the next one was promoted
    stances: int = 0  # related entries given a stance (podbrief/related.py), where the check was confident
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "rewritten": self.rewritten, "kept": self.kept, "dropped": self.dropped,
                "stances": self.stances, "seconds": round(self.seconds, 1)}


def enabled(config: Config) -> bool:
    return str(config["llm"]["polish_model"] or "off").lower() not in ("off", "none", "false")


def check(config: Config, paths: Paths) -> None:
    """A polish model that cannot be found fails before the run's heavy work (ModelError), not after it."""
    if enabled(config):
        model_registry.resolve("llm", config["llm"]["polish_model"], paths)


def context_of(insight: Insight) -> writer.Context | None:
    """The writer's context stored with an insight by extract; None for insights without one (older files)."""
    stored = insight.get("context")
    if not isinstance(stored, dict) or not isinstance(stored.get("answer"), str) or not insight.get("speaker"):
        return None
    answer = " ".join([stored["answer"], str(stored.get("following") or "")]).strip()
    return writer.Context(answer, str(insight["speaker"]), str(stored.get("question") or ""),
                          stored.get("questioner") if isinstance(stored.get("questioner"), str) else None,
                          (insight.get("episode") or {}).get("title"))


def _poorer(text: str, draft: str, context: writer.Context) -> str | None:
    """Why a rewrite is worse than its draft by construction (None when it is not): measured, the model's
    rewrites sometimes keep the claim and drop the reason, or lose the speaker's name."""
    if len(text.split()) < MIN_SHARE * len(draft.split()):
        return "it is much shorter than the draft (the reason was dropped)"
    surname = context.speaker.split()[-1]
    if not GENERIC_NAME.match(context.speaker) and surname.lower() not in text.lower():
        return "it does not name the speaker"
    drafted = grounding.content(draft)
    for sentence in passages.sentences(text):
        words = grounding.content(sentence) - context.names()
        if words and len(words - drafted) >= ADDED_SHARE * len(words) \
                and grounding.unsupported(sentence, context.answer, context.people(), grounding.MIN_SUPPORT):
            return f"it adds a sentence the answer does not support ({sentence[:50]!r})"
    return None


def polish_one(engine: writer.Engine, insight: Insight) -> tuple[str | None, str]:
    """("rewritten" | "kept", new text) when the finalist passes, (None, why) when it fails both checks."""
    context = context_of(insight)
    if context is None:
        return "kept", insight["text"]  # nothing to check against: as extracted
    chat = writer.messages(context, POLISH.format(name=context.speaker, text=insight["text"]))
    why = ""
    try:
        text = writer.clean_text(engine.complete(engine.prompt(chat), max_tokens=130), context)
        problem = writer.unsupported(text, context.answer, context.people()) or _poorer(text, insight["text"], context)
        if problem:
            raise writer.Rejected("ungrounded", problem)
        faithful = writer.verify(engine, context, text)
        if faithful >= writer.FAITHFUL_MIN:
            insight["scores"] = {**(insight.get("scores") or {}), "faithful": round(faithful, 3),
                                 "faithful_each": round(writer.verify_each(engine, context, text), 3)}
            return "rewritten", text
        why = f"rewrite unfaithful (P(yes) {faithful:.2f})"
    except writer.Rejected as rejected:
        why = f"rewrite rejected ({rejected})"
    original = writer.verify(engine, context, insight["text"])
    if original >= writer.FAITHFUL_MIN:
        return "kept", insight["text"]
    return None, f"{why}; extracted text unfaithful too (P(yes) {original:.2f})"


def run(items: list[BriefItem], config: Config, paths: Paths, reporter: Reporter,
        budget: Budget = Budget()) -> tuple[list[BriefItem], Report]:
    """The first rank.top finalists (of `items`, best first) that pass, polished, renumbered from 1."""
    report = Report()
    top = config["rank"]["top"] or len(items)
    if not enabled(config) or not items:
        return items[:top], report
    from podbrief.engines.llm import LLM

    started = time.monotonic()
    model = model_registry.resolve("llm", config["llm"]["polish_model"], paths)
    settings = config["llm"]
    engine = LLM(model, paths, settings["threads"], settings["context_size"], settings["gpu_layers"])
    report.model = engine.name
    reporter.say("start", f"polish the brief's finalists with {engine.name} ...")
    chosen: list[BriefItem] = []
    for item in items:
        if len(chosen) >= top or budget.exhausted():
            break
        insight: Insight = {**item["insight"]}
        outcome, text = polish_one(engine, insight)
        if outcome is None:
            report.dropped += 1
            report.notes.append(f"{insight['id']}: {text}")
            log.debug("polish dropped %s: %s", insight["id"], text)
            continue
        if outcome == "rewritten":
            insight["draft"], insight["text"] = insight["text"], text
            report.rewritten += 1
        else:
            report.kept += 1
        chosen.append({**item, "insight": insight})
    if not budget.exhausted():
        report.stances = related.mark_stances(engine, chosen)
    report.seconds = time.monotonic() - started
    if budget.exhausted():  # out of time: the rest as ranked, unpolished
        chosen += [item for item in items if item["insight"]["id"] not in {c["insight"]["id"] for c in chosen}]
        chosen = chosen[:top]
    for number, item in enumerate(chosen, start=1):
        item["rank"] = number
    return chosen, report
