"""Diarization (engines/diarize.py) on real recordings, and its place in the transcribe stage."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from support.speech import SPEECH, der
from test_transcribe import add_episode, transcript, write_audio
from typer.testing import CliRunner

from podbrief.cli import app
from podbrief.engines import diarize
from podbrief.engines.whisper import load_audio, speech_regions
from podbrief.errors import ExitStatus, ModelError
from podbrief.store import Paths, read_json


def reference(path: Path) -> list[tuple[str, float, float]]:
    """(speaker, start, end) from an RTTM file or a "start end speaker" segments file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(r[7], float(r[3]), float(r[3]) + float(r[4])) if r[0] == "SPEAKER" else (r[2], float(r[0]), float(r[1]))
            for r in rows]


def diarized(name: str, embedder: diarize.Embedder) -> list[tuple[str, float, float]]:
    audio = load_audio(SPEECH / name)
    turns = diarize.diarize(audio, [(r.start, r.end) for r in speech_regions(audio, True)], embedder).turns
    return [(t.speaker, t.start, t.end) for t in turns]


def test_four_speakers_in_turns_are_found_and_told_apart() -> None:
    ref = reference(SPEECH / "diarization-example.segments")
    hyp = diarized("diarization-example.mp3", diarize.MfccEmbedder())
    assert len({speaker for speaker, _, _ in hyp}) == 4
    assert der(ref, hyp) <= 0.10


@pytest.mark.slow
@pytest.mark.skipif(diarize.resemblyzer_weights() is None, reason="needs podbrief[diarize] (resemblyzer)")
def test_the_voice_encoder_runs_its_real_weights_without_torch() -> None:
    ref = reference(SPEECH / "diarization-example.segments")
    hyp = diarized("diarization-example.mp3", diarize.embedder("voice-encoder"))
    assert len({speaker for speaker, _, _ in hyp}) == 4 and der(ref, hyp) <= 0.10
    assert "torch" not in sys.modules


def test_a_two_speaker_telephone_call_beats_calling_everyone_one_speaker() -> None:
    ref = reference(SPEECH / "conversation.rttm")
    hyp = diarized("conversation.mp3", diarize.MfccEmbedder())
    one_voice = [("SPEAKER_00", start, end) for _, start, end in hyp]
    assert len({speaker for speaker, _, _ in hyp}) == 2
    assert der(ref, hyp) < der(ref, one_voice) - 0.03
    assert hyp == sorted(hyp, key=lambda t: t[1]) and all(end > start for _, start, end in hyp)


def test_transcripts_are_split_at_speaker_changes_and_labelled(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["transcribe", str(SPEECH / "diarization-example.mp3"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    segments = read_json(out)["segments"]
    ref = reference(SPEECH / "diarization-example.segments")
    assert len({s["speaker"] for s in segments}) == 4
    # every segment lies within one reference turn (give or take a word), so its label is one person's
    for segment in segments:
        inside = max(min(segment["end"], end) - max(segment["start"], start) for _, start, end in ref)
        assert inside >= segment["end"] - segment["start"] - 1.0, segment
    hyp = [(s["speaker"], s["start"], s["end"]) for s in segments]
    assert der(ref, hyp) <= 0.15


def test_a_missing_speaker_model_is_one_warning_and_transcription_goes_on_unlabelled(
        home: Path, tmp_path: Path, set_config, monkeypatch) -> None:
    monkeypatch.setattr(diarize, "resemblyzer_weights", lambda: None)
    set_config(transcribe={"speaker_model": "voice-encoder"})
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["transcribe", str(SPEECH / "conversation.mp3"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ("podbrief: warning: diarization model 'voice-encoder' is not installed: "
                             "pip install 'podbrief[diarize]'; transcribing without speaker labels\n")
    doc = read_json(out)
    assert doc["model"]["speakers"] is None and doc["segments"]
    assert all(s["speaker"] is None for s in doc["segments"])
    set_config(transcribe={"diarize": False})
    assert CliRunner().invoke(app, ["transcribe", str(SPEECH / "conversation.mp3"), "-o", str(out)]).exit_code == 0
    assert all(s["speaker"] is None for s in read_json(out)["segments"])


BRIAN = [{"name": "Brian Hale", "role": "host"}, {"name": "Ann Lowe", "role": "guest"},
         {"name": "Cy Diaz", "role": "guest"}, {"name": "Dee Ford", "role": "guest"}]


def with_persons(home: Path, episode_id: str, persons: list[dict[str, str]]) -> str:
    path = Paths(home).episode_dir(episode_id) / "episode.json"
    path.write_text(json.dumps({**read_json(path), "persons": persons}))
    return episode_id


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_voiceprint_memory_names_a_recurring_voice_in_a_later_episode(home: Path, tmp_path: Path) -> None:
    audio = load_audio(SPEECH / "diarization-example.mp3")
    first = with_persons(home, add_episode(home, "first", audio=SPEECH / "diarization-example.mp3"), BRIAN)
    assert cli("transcribe", first).exit_code == 0
    opening = transcript(home, first)["segments"][0]
    assert (opening["speaker"], opening["label"]) == ("Brian Hale", "SPEAKER_00")  # the host opens

    # two later episodes of the show whose feed names no one: one opens with Brian, one lacks him
    again = with_persons(home, add_episode(home, "again", audio=write_audio(tmp_path / "a.flac", [audio[:19 * 16000]])), [])
    later = with_persons(home, add_episode(home, "later", audio=write_audio(tmp_path / "b.flac", [audio[6 * 16000:]])), [])
    assert cli("transcribe").exit_code == 0
    assert transcript(home, again)["segments"][0]["speaker"] == "Brian Hale"
    assert [s["speaker"] for s in transcript(home, again)["segments"][1:]] == ["SPEAKER_01", "SPEAKER_02", "SPEAKER_01"]
    assert all(s["speaker"].startswith("SPEAKER_") for s in transcript(home, later)["segments"])

    listed = json.loads(cli("speakers", "--json").stdout)
    assert [(row["name"], row["episodes"], row["model"]) for row in listed] == [("Brian Hale", 2, "mfcc")]
    assert cli("speakers", "--rename", "Brian Hale", "Brian H.").exit_code == 0
    assert [row["name"] for row in json.loads(cli("speakers", "--json").stdout)] == ["Brian H."]
    assert cli("speakers", "--forget", "Brian H.").exit_code == 0
    assert json.loads(cli("speakers", "--json").stdout) == []
    result = cli("speakers", "--forget", "Brian H.")
    assert result.exit_code == ExitStatus.INPUT and "no voiceprint named 'Brian H.'" in result.stderr


def test_a_corrupt_voiceprint_store_is_moved_aside_and_rebuilt(home: Path) -> None:
    store = home / "voiceprints" / f"{'f' * 16}.json"
    store.parent.mkdir()
    store.write_text("{half a file")
    episode = with_persons(home, add_episode(home, "first", audio=SPEECH / "diarization-example.mp3"), BRIAN)
    assert cli("transcribe", episode).exit_code == 0
    assert transcript(home, episode)["segments"][0]["speaker"] == "Brian Hale"
    assert store.with_name(store.name + ".corrupt").read_text() == "{half a file"  # kept for the user
    assert [s["name"] for s in read_json(store)["speakers"]] == ["Brian Hale"]


def test_clustering_finds_the_number_of_groups() -> None:
    rng = np.random.default_rng(0)
    centres = diarize._unit(rng.normal(size=(3, 16)))
    points = diarize._unit(np.repeat(centres, 20, axis=0) + 0.05 * rng.normal(size=(60, 16)))
    labels = diarize.cluster(points, 0.8)
    assert sorted(np.bincount(labels).tolist()) == [20, 20, 20]
    assert len(set(diarize.cluster(points[:20], 0.8).tolist())) == 1


def test_der_counts_missed_false_and_confused_speech() -> None:
    ref = [("a", 0.0, 10.0), ("b", 10.0, 20.0)]
    assert der(ref, [("x", 0.0, 10.0), ("y", 10.0, 20.0)]) == 0.0
    assert der(ref, [("x", 0.0, 20.0)]) == pytest.approx(0.5)
    assert der(ref, [("x", 0.0, 5.0), ("y", 10.0, 20.0), ("y", 20.0, 25.0)]) == pytest.approx(0.5)


def test_a_missing_voice_encoder_is_a_model_error_naming_the_extra(monkeypatch) -> None:
    monkeypatch.setattr(diarize, "resemblyzer_weights", lambda: None)
    with pytest.raises(ModelError, match=r"pip install 'podbrief\[diarize\]'"):
        diarize.embedder("voice-encoder")
    assert diarize.embedder(None) is None and diarize.embedder("mfcc").name == "mfcc"


def _rebuild_tensor_v2(*args):  # pickled by reference as torch._utils._rebuild_tensor_v2
    raise AssertionError("never called: only its name goes into the checkpoint")


class _Storage:
    def __init__(self, key: str):
        self.key = key


class _Tensor:
    def __init__(self, key: str, shape: tuple[int, ...]):
        self.key, self.shape = key, shape

    def __reduce__(self):
        stride = (self.shape[1], 1) if len(self.shape) == 2 else (1,)
        return _rebuild_tensor_v2, (_Storage(self.key), 0, self.shape, stride)


def _legacy_checkpoint(path: Path, state: dict, monkeypatch, storage_class: str = "FloatStorage") -> None:
    """Write a checkpoint the way torch.save did before 1.6 (what resemblyzer ships), without torch."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    torch._utils, utils._rebuild_tensor_v2 = utils, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    _rebuild_tensor_v2.__module__ = "torch._utils"

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage_class, obj.key, "cpu", 0, None) if isinstance(obj, _Storage) else None

    arrays = [np.asarray(value, np.float32) for value in state.values()]
    tensors = {name: _Tensor(f"t{n}", array.shape) for n, (name, array) in enumerate(zip(state, arrays))}
    with path.open("wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump({"model_state": tensors})
        pickle.dump([f"t{n}" for n in range(len(arrays))], f, protocol=2)
        for array in arrays:
            f.write(struct.pack("<q", array.size) + array.tobytes())


def test_a_legacy_torch_checkpoint_is_read_without_torch_and_refuses_code(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "weights.pt"
    _legacy_checkpoint(path, {"w": [[1.0, 2.0], [3.0, 4.0]], "b": [0.5]}, monkeypatch)
    state = diarize.read_torch_legacy(path)["model_state"]
    assert state["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]] and state["b"].tolist() == [0.5]
    _legacy_checkpoint(path, {"w": [1.0]}, monkeypatch, storage_class="LongStorage")
    with pytest.raises(ModelError, match="unexpected storage"):
        diarize.read_torch_legacy(path)
    for headers in (0, 3):  # a pickle that would call os.system, first or after the headers
        with path.open("wb") as f:
            for header in range(headers):
                pickle.dump(header, f)
            f.write(b"cos\nsystem\n(S'true'\ntR.")
        with pytest.raises(ModelError, match="unexpected os.system"):
            diarize.read_torch_legacy(path)


def test_publisher_transcripts_with_generic_labels_are_named_the_same_way(home: Path, tmp_path: Path) -> None:
    vtt = tmp_path / "generic.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Speaker 1>Welcome to the show. Over to you, Jane.\n\n"
                   "00:00:04.000 --> 00:00:08.000\n<v Speaker 2>Thanks for having me.\n\n"
                   "00:00:08.000 --> 00:00:12.000\n<v Speaker 3>And I am just listening.\n")
    episode = add_episode(home, "published", publisher=vtt)
    with_persons(home, episode, [{"name": "Alice Smith", "role": "host"}, {"name": "Jane Doe", "role": "guest"},
                                 {"name": "Omar Haddad", "role": "guest"}])
    assert cli("transcribe", episode).exit_code == 0
    segments = transcript(home, episode)["segments"]
    assert [(s["speaker"], s["label"]) for s in segments] == [
        ("Alice Smith", "Speaker 1"), ("Jane Doe", "Speaker 2"), ("Omar Haddad", "Speaker 3")]  # the one left
    assert not (home / "voiceprints").exists()  # no audio, no voices: nothing to remember
