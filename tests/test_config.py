"""Config: defaults come from config.example.yaml; file < env < flags; clear errors with line numbers."""

from pathlib import Path

import pytest
import yaml

from podbrief import config
from podbrief.errors import ConfigError, ExitStatus


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_documented_example():
    example = yaml.safe_load((Path(__file__).parent.parent / "config.example.yaml").read_text())
    assert config.load(None, environ={}) == example


def test_file_then_env_then_flags(tmp_path):
    path = write(tmp_path, "llm:\n  threads: 1\n  context_size: 2048\nrank:\n  top: 3\n")
    loaded = config.load(path, environ={"PODBRIEF_LLM_THREADS": "2"}, flags={"rank.top": 7, "llm.model": None})
    assert loaded["llm"]["threads"] == 2  # env beats file
    assert loaded["llm"]["context_size"] == 2048  # file beats default
    assert loaded["rank"]["top"] == 7  # flag beats file
    assert loaded["llm"]["model"] == config.defaults()["llm"]["model"]  # None flag is ignored


def test_env_values_are_typed(tmp_path):
    loaded = config.load(None, environ={"PODBRIEF_RANK_AVOID": "[sports, crypto]", "PODBRIEF_NETWORK_ALLOW_PRIVATE": "true"})
    assert loaded["rank"]["avoid"] == ["sports", "crypto"]
    assert loaded["network"]["allow_private"] is True


@pytest.mark.parametrize(
    "text, message",
    [
        ("rank:\n  top: five\n", "config.yaml:2: rank.top: expected an integer, got 'five'"),
        ("rank:\n  top: 5\n  colour: red\n", "config.yaml:3: unknown key 'rank.colour'"),
        ("ranking:\n  top: 5\n", "config.yaml:1: unknown section 'ranking'"),
        ("network:\n  allow_private: yes please\n", "config.yaml:2: network.allow_private: expected true/false"),
        ("rank:\n  top: -1\n", "config.yaml:2: rank.top: must not be negative"),
        ("rank: [1, 2]\n", "config.yaml:1: rank: expected a mapping of settings"),
        ("rank:\n  top: [\n", "config.yaml:3"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("transcribe:\n  device: gpu\n", "config.yaml:2: transcribe.device: expected one of auto, cpu, cuda, got 'gpu'"),
        ("brief:\n  deliver: \"obsidian: \"\n", "config.yaml:2: brief.deliver: expected one of none, email, obsidian:DIR"),
    ],
)
def test_bad_config_names_the_line_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), environ={})
    assert message in str(info.value)
    assert info.value.exit_status == ExitStatus.CONFIG


def test_bad_env_value_is_a_config_error():
    with pytest.raises(ConfigError, match="PODBRIEF_RANK_TOP"):
        config.load(None, environ={"PODBRIEF_RANK_TOP": "many"})


def test_choices_are_checked_at_load_in_every_layer(tmp_path):
    with pytest.raises(ConfigError, match="PODBRIEF_EMAIL_SECURITY: email.security: expected one of starttls"):
        config.load(None, environ={"PODBRIEF_EMAIL_SECURITY": "tls"})
    with pytest.raises(ConfigError, match="command line: transcribe.compute_type: expected one of int8, float32"):
        config.load(None, environ={}, flags={"transcribe.compute_type": "int4"})
    assert config.load(None, environ={"PODBRIEF_BRIEF_DELIVER": "obsidian:~/vault"})["brief"]["deliver"] == \
        "obsidian:~/vault"


@pytest.mark.parametrize("key", sorted(config.CHOICES))
def test_a_choice_is_never_empty_or_null(tmp_path, key):
    section, name = key.split(".")
    for text in (f"{section}:\n  {name}:\n", f"{section}:\n  {name}: ''\n"):
        with pytest.raises(ConfigError, match=f"config.yaml:2: {key}: expected one of"):
            config.load(write(tmp_path, text), environ={})
    with pytest.raises(ConfigError, match=f"{key}: expected one of"):  # PODBRIEF_X= reads as null
        config.load(None, environ={f"PODBRIEF_{section}_{name}".upper(): ""})


def test_ints_widen_to_floats_but_bools_are_not_numbers(tmp_path):
    assert config.load(write(tmp_path, "rank:\n  recency_half_life_days: 3\n"), environ={})["rank"][
        "recency_half_life_days"
    ] == 3
    with pytest.raises(ConfigError):
        config.load(write(tmp_path, "rank:\n  top: true\n"), environ={})


def test_empty_file_means_defaults(tmp_path):
    assert config.load(write(tmp_path, ""), environ={}) == config.defaults()
