"""Golden files, one layout for all: the expected output lies beside its input as
`<input name>.expected<suffix>` (tests/fixtures/feeds/x.xml -> x.xml.expected.json), like
podcastparser's tests. After a deliberate change, rewrite them with `PODBRIEF_UPDATE_GOLDEN=1 pytest`
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

UPDATE = "PODBRIEF_UPDATE_GOLDEN"


def expected_path(source: Path, suffix: str = ".json") -> Path:
    return source.with_name(f"{source.name}.expected{suffix}")


def is_expected(path: Path) -> bool:
    return ".expected" in path.name


def check_text(expected: Path, actual: str) -> None:
    """`actual` must equal the file byte for byte."""
    if os.environ.get(UPDATE):
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_bytes(actual.encode("utf-8"))
    assert actual == expected.read_bytes().decode("utf-8")


def check_json(expected: Path, actual: Any) -> None:
    """`actual` must equal the file's JSON value."""
    if os.environ.get(UPDATE):
        expected.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == json.loads(expected.read_text(encoding="utf-8"))
