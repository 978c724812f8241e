"""Shared fixtures: a podbrief home for tests and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from support.localserver import LocalServer

# Tests talk to 127.0.0.1 (allowed only with allow_private) and must fail fast.
TEST_CONFIG = {"network": {"allow_private": True, "timeout": 2, "total_timeout": 10}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PODBRIEF_HOME whose config.yaml allows private addresses and has short network timeouts.

    Tests that need other settings use the `set_config` fixture.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PODBRIEF_HOME", str(home))
    write_config(home)
    return home


def write_config(home: Path, **sections: dict) -> None:
    """Write the test config, with `sections` merged over TEST_CONFIG, e.g. network={"total_timeout": 2}."""
    config = {section: dict(values) for section, values in TEST_CONFIG.items()}
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    (home / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def set_config(home: Path) -> Callable[..., None]:
    """Rewrite the test config with overrides: `set_config(network={"total_timeout": 2})`."""
    return lambda **sections: write_config(home, **sections)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """A real threaded HTTP server on 127.0.0.1 serving files from a temp dir; see tests/support/localserver.py."""
    root = tmp_path / "www"
    root.mkdir()
    local = LocalServer(root).start()
    yield local
    local.stop()
