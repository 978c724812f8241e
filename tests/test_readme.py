"""The README's configuration reference documents every setting there is."""

from pathlib import Path

import pytest

from podbrief import config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("key", [f"{section}.{key}" for section, keys in config.defaults().items() for key in keys])
def test_every_config_key_is_in_the_readme(key):
    assert f"| `{key}` |" in README, f"add {key} to the README's configuration reference"
