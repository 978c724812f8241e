"""Brief-time polish: finalists rewritten and verified again, failures replaced by the next finalist.

A scripted engine stands in for the model here; test_extract_llm.py and test_today_e2e.py
run the real one.
"""

from __future__ import annotations

import copy

from support.recorder import Recorder

from podbrief import config as configmod
from podbrief.stages import Budget, polish
from podbrief.store import Paths

ANSWER = ("The main reason is that cell factories kept scaling up, and every doubling of production cut the cost by "
          "about eighteen percent. But the surprising part is that the inverter and the grid connection now cost more "
          "than the cells, so utilities should plan around interconnection queues, not chemistry.")
EXTRACTED = ("Grid batteries got cheap because cell factories scaled up. Bob Lee says each doubling of production cut "
             "the cost by about eighteen percent.")
POLISHED = ("Batteries are no longer the expensive part of grid storage: the inverter and the grid connection now cost "
            "more than the cells. Bob Lee says utilities should therefore plan around interconnection queues, not "
            "chemistry.")


class ScriptedEngine:
    """Rewrites with `rewrites` in order; P(yes) from `verdicts` in order."""

    name, sha256 = "scripted", "s" * 64

    def __init__(self, rewrites: list[str], verdicts: list[float]):
        self.rewrites, self.verdicts = list(rewrites), list(verdicts)
        self.prompts: list[str] = []

    def prompt(self, messages):
        return "\n".join(m["content"] for m in messages)

    def complete(self, prompt, max_tokens, stop=("\n",), temperature=0.0, seed=0):
        self.prompts.append(prompt)
        return self.rewrites.pop(0)

    def yes_probability(self, prompt):
        self.prompts.append(prompt)
        if "say or clearly mean this in the answer above" in prompt:  # writer.verify_each, per sentence
            return 0.85
        return self.verdicts.pop(0)


def finalist(number: int, text: str = EXTRACTED) -> dict:
    insight = {"id": f"{number:016x}", "text": text, "speaker": "Bob Lee", "topics": [], "scores": {"faithful": 0.8},
               "episode": {"id": f"e{number}", "title": "Storage", "show": "Grid"},
               "context": {"answer": ANSWER, "following": "", "question": "Why did batteries get cheaper?",
                           "questioner": "Alice Smith", "start": 0.0, "end": 60.0, "highlighted": False}}
    return {"rank": number, "score": 1.0 / number, "insight": insight, "why": {}, "related": []}


def test_a_finalist_is_rewritten_when_the_rewrite_passes_the_check():
    engine = ScriptedEngine([POLISHED], [0.9])
    insight = copy.deepcopy(finalist(1)["insight"])
    assert polish.polish_one(engine, insight) == ("rewritten", POLISHED)
    assert insight["scores"]["faithful"] == 0.9 and insight["scores"]["faithful_each"] == 0.85  # the rewrite's own
    assert "Why did batteries get cheaper?" in engine.prompts[0] and EXTRACTED in engine.prompts[0]


def test_an_unfaithful_rewrite_keeps_the_extracted_text_when_that_passes():
    engine = ScriptedEngine([POLISHED], [0.2, 0.7])
    assert polish.polish_one(engine, copy.deepcopy(finalist(1)["insight"])) == ("kept", EXTRACTED)


def test_an_invented_rewrite_is_rejected_without_asking_the_model():
    invented = ("Batteries are no longer the expensive part of grid storage, says Bob Lee. He warns that Chinese "
                "suppliers will double prices next winter to punish European utilities.")
    engine = ScriptedEngine([invented], [0.9])  # the one verdict is for the extracted text
    assert polish.polish_one(engine, copy.deepcopy(finalist(1)["insight"])) == ("kept", EXTRACTED)


def test_a_finalist_failing_both_checks_is_dropped_and_the_next_promoted(tmp_path, monkeypatch):
    config = configmod.defaults()
    config["rank"]["top"] = 2
    engine = ScriptedEngine([POLISHED, POLISHED, POLISHED], [0.1, 0.2, 0.9, 0.95])
    monkeypatch.setattr("podbrief.engines.llm.LLM", lambda *args, **kwargs: engine)
    monkeypatch.setattr("podbrief.model_registry.resolve", lambda *args: None)
    finalists = [finalist(1), finalist(2), finalist(3)]
    items, report = polish.run(finalists, config, Paths(tmp_path), Recorder(), Budget())
    assert [item["insight"]["id"] for item in items] == [f"{2:016x}", f"{3:016x}"]  # the first failed both
    assert [item["rank"] for item in items] == [1, 2]
    assert all(item["insight"]["text"] == POLISHED and item["insight"]["draft"] == EXTRACTED for item in items)
    assert report.to_json() | {"seconds": 0} == {"model": "scripted", "rewritten": 2, "kept": 0, "dropped": 1,
                                                 "stances": 0, "seconds": 0}
    assert finalists[1]["insight"]["text"] == EXTRACTED  # the ranked items themselves are not changed


def test_polish_off_takes_the_top_as_ranked(tmp_path):
    config = configmod.defaults()
    config["llm"]["polish_model"] = "off"
    config["rank"]["top"] = 2
    items, report = polish.run([finalist(1), finalist(2), finalist(3)], config, Paths(tmp_path), Recorder())
    assert [item["rank"] for item in items] == [1, 2] and report.rewritten == 0


def test_an_insight_without_stored_context_is_kept_as_extracted():
    insight = finalist(1)["insight"]
    del insight["context"]
    assert polish.polish_one(ScriptedEngine([], []), insight) == ("kept", EXTRACTED)


def test_a_missing_polish_model_fails_before_any_work(home, server):
    from support.localserver import item, rss
    from typer.testing import CliRunner

    from podbrief.cli import app
    from podbrief.errors import ExitStatus

    (home / "config.yaml").write_text("network: {allow_private: true}\nllm: {polish_model: /no/such/model.gguf}\n")
    server.add("1.mp3", b"ID3 not really audio")
    url = server.add("feed.xml", rss("Show", [item("New episode", "guid-1", audio_url=server.url("1.mp3"))]))
    assert CliRunner().invoke(app, ["add", url]).exit_code == 0
    result = CliRunner().invoke(app, ["today"])
    assert result.exit_code == ExitStatus.MODEL, result.output
    assert "/no/such/model.gguf" in result.stderr and not (home / "briefs").exists()
    assert not list((home / "episodes").glob("*/transcript.json"))  # nothing was transcribed


def test_a_rewrite_that_drops_the_reason_or_the_speaker_keeps_the_draft():
    shorter = "Claim: Grid batteries got cheap because cell factories scaled up quickly."  # no reason, no name
    engine = ScriptedEngine([shorter], [0.9])  # the one verdict is for the extracted text
    assert polish.polish_one(engine, copy.deepcopy(finalist(1)["insight"])) == ("kept", EXTRACTED)


def test_a_rewrite_that_appends_an_unsupported_sentence_keeps_the_draft():
    appended = EXTRACTED + " This matters because it ensures that households will pay less for electricity soon."
    engine = ScriptedEngine([appended], [0.9])  # the one verdict is for the extracted text
    assert polish.polish_one(engine, copy.deepcopy(finalist(1)["insight"])) == ("kept", EXTRACTED)
    why = polish._poorer(appended, EXTRACTED, polish.context_of(finalist(1)["insight"]))
    assert why is not None and "adds a sentence the answer does not support" in why
    supported = EXTRACTED + " The inverter and the grid connection now cost more than the cells themselves."
    assert polish._poorer(supported, EXTRACTED, polish.context_of(finalist(1)["insight"])) is None
