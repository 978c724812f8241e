"""A Reporter (podbrief/progress.py) that records what a stage reports, for tests to inspect."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from podbrief.progress import Kind, Unit


@dataclass
class RecordedBar:
    unit: Unit
    description: str
    total: float | None
    updates: list[tuple[float | None, float | None, str | None]] = field(default_factory=list)  # (done, total, note)
    closed: bool = False

    def update(self, done: float | None = None, total: float | None = None, note: str | None = None) -> None:
        assert not self.closed, f"{self.description}: updated after it was closed"
        self.updates.append((done, total, note))

    def close(self) -> None:
        self.closed = True


@dataclass
class Recorder:
    lines: list[tuple[Kind, str]] = field(default_factory=list)
    bars_made: list[RecordedBar] = field(default_factory=list)
    open_blocks: int = 0

    def say(self, kind: Kind, message: str) -> None:
        self.lines.append((kind, message))

    @contextlib.contextmanager
    def bars(self, unit: Unit) -> Iterator[_RecordingBars]:
        self.open_blocks += 1
        try:
            yield _RecordingBars(self, unit)
        finally:
            self.open_blocks -= 1

    def said(self, kind: Kind) -> list[str]:
        return [message for k, message in self.lines if k == kind]


@dataclass
class _RecordingBars:
    recorder: Recorder
    unit: Unit

    def add(self, description: str, total: float | None = None) -> RecordedBar:
        bar = RecordedBar(self.unit, description, total)
        self.recorder.bars_made.append(bar)
        return bar
