"""Device selection: the GPU when there is one, the CPU otherwise, and one warning when the GPU fails.

This machine has no GPU, so a requested CUDA device fails for real in CTranslate2 (the fallback
tests use that); a present GPU is faked by patching CTranslate2's device count and
llama.cpp's offload check, and by a WhisperModel that records the device it was asked for.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ctranslate2
import llama_cpp
import pytest
from faster_whisper import WhisperModel
from support.recorder import Recorder
from support.speech import SPEECH, fixture_references, wer
from test_transcribe import add_episode, podbrief, transcript

from podbrief import config as configmod
from podbrief import devices, model_registry
from podbrief.engines import whisper
from podbrief.engines.llm import LLM
from podbrief.errors import ConfigError
from podbrief.stages import transcribe as stage
from podbrief.store import Paths

CLIP = "librivox-0870.wav"


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend CTranslate2 sees one CUDA device and llama.cpp can offload."""
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("podbrief")]


def test_auto_is_cuda_in_float16_where_ctranslate2_sees_a_gpu(gpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    decode = stage.settings(configmod.load(None))
    assert (decode.device, decode.compute_type) == ("cuda", "float16")
    forced = stage.settings(configmod.load(None, flags={"transcribe.device": "cpu"}))
    assert (forced.device, forced.compute_type) == ("cpu", "int8")
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert stage.settings(configmod.load(None)).device == "cpu"
    with pytest.raises(ConfigError, match="transcribe.device"):
        stage.settings(configmod.load(None, flags={"transcribe.device": "tpu"}))


def test_this_machine_has_no_gpu_so_auto_is_the_cpu() -> None:
    assert devices.cuda_devices() == 0 and not llama_cpp.llama_supports_gpu_offload()
    assert stage.settings(configmod.load(None)).device == "cpu"
    assert devices.gpu_layers(-1) == 0


def test_a_gpu_that_cannot_be_used_falls_back_to_the_cpu_with_one_warning(home: Path, caplog) -> None:
    episodes = [add_episode(home, name, audio=SPEECH / name) for name in (CLIP, "librivox-0920.wav")]
    config = configmod.load(None, flags={"transcribe.device": "cuda"})  # no GPU here: CTranslate2 fails for real
    report = stage.run_pending(Paths(home), config, Recorder())
    assert sorted(report.done) == sorted(episodes)
    assert len(warnings(caplog)) == 1 and "cannot transcribe on the GPU, using the CPU" in warnings(caplog)[0]
    settings = transcript(home, episodes[0])["model"]["settings"]
    assert (settings["device"], settings["compute_type"]) == ("cpu", "int8")


def test_on_a_gpu_one_engine_in_this_process_decodes_in_float16(home: Path, gpu: None, monkeypatch) -> None:
    asked: list[tuple[str, str]] = []

    def on_the_cpu(path: str, device: str, compute_type: str, **options) -> WhisperModel:
        asked.append((device, compute_type))  # the CPU stands in for the GPU
        return WhisperModel(path, device="cpu", compute_type="int8", **options)

    monkeypatch.setattr(whisper, "WhisperModel", on_the_cpu)
    episodes = [add_episode(home, name, audio=SPEECH / name) for name in (CLIP, "librivox-0920.wav")]
    report = stage.run_pending(Paths(home), configmod.load(None), Recorder())
    assert sorted(report.done) == sorted(episodes)
    assert asked == [("cuda", "float16")]  # one engine, here: worker processes would not see the patch
    doc = transcript(home, episodes[0])
    assert (doc["model"]["settings"]["device"], doc["model"]["settings"]["compute_type"]) == ("cuda", "float16")
    assert wer([fixture_references()[CLIP]], [" ".join(s["text"] for s in doc["segments"])]) <= 20


def test_llm_offloads_all_layers_on_a_gpu_and_falls_back_to_the_cpu_with_one_warning(home: Path, gpu: None,
                                                                                    monkeypatch, caplog) -> None:
    real = llama_cpp.Llama
    asked: list[int] = []

    def failing_on_the_gpu(model_path: str, **options):
        asked.append(options["n_gpu_layers"])
        if options["n_gpu_layers"]:
            raise ValueError(f"Failed to load model from file: {model_path}")  # what llama-cpp-python raises
        return real(model_path=model_path, **options)

    monkeypatch.setattr(llama_cpp, "Llama", failing_on_the_gpu)
    config = configmod.load(None)
    engine = LLM(model_registry.resolve("llm", "smollm2-135m", Paths(home)), Paths(home), 1, 512,
                 config["llm"]["gpu_layers"])
    assert asked == [-1, 0] and engine.gpu_layers == 0
    assert len(warnings(caplog)) == 1 and "on the GPU, using the CPU" in warnings(caplog)[0]
    assert engine.tokens("hello world") > 0


def test_gpu_layers_may_be_minus_one_but_other_settings_stay_non_negative() -> None:
    assert configmod.load(None, flags={"llm.gpu_layers": -1})["llm"]["gpu_layers"] == -1
    assert configmod.load(None, flags={"llm.gpu_layers": 12})["llm"]["gpu_layers"] == 12
    with pytest.raises(ConfigError, match="must not be negative"):
        configmod.load(None, flags={"llm.threads": -1})


def test_models_says_which_device_each_model_runs_on(home: Path, monkeypatch) -> None:
    rows = json.loads(podbrief("models", "--json").stdout)
    assert {(r["kind"], r["device"]) for r in rows} == {("whisper", "cpu (int8)"), ("llm", "cpu")}
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    rows = json.loads(podbrief("models", "--json").stdout)
    assert {(r["kind"], r["device"]) for r in rows} == {("whisper", "cuda (float16)"), ("llm", "gpu (all layers)")}
    assert "cuda" in podbrief("models").stdout
