"""How a stage tells the person what it is doing, without knowing how that is shown (httpie's
`Environment` idea): `terminal.TerminalReporter` draws it with rich on stderr; tests record it
(tests/support/recorder.py). Messages are plain text from feeds and models, never markup.
Warnings raised deep in an engine (a GPU that fails and the CPU taking over) go through `logging`,
which the CLI prints as one stderr line too: the engines know no reporter.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Literal, Protocol

Unit = Literal["bytes", "seconds"]  # what a bar counts: downloaded bytes, or seconds of audio done
# Kinds of status line, each shown in its own style: what was found (new), finished (done, downloaded),
# could not be done (failed, problem), is worth knowing (note, warning), or began (a stage's name).
Kind = Literal["new", "done", "downloaded", "failed", "problem", "note", "warning", "start"]


class Bar(Protocol):
    def update(self, done: float | None = None, total: float | None = None, note: str | None = None) -> None:
        """Move the bar; None leaves a value as it was. `note` is a short text beside it (a speed)."""

    def close(self) -> None: ...


class Bars(Protocol):
    def add(self, description: str, total: float | None = None) -> Bar: ...


class Reporter(Protocol):
    def say(self, kind: Kind, message: str) -> None:
        """One status line."""

    def bars(self, unit: Unit) -> AbstractContextManager[Bars]:
        """Progress bars for the duration of the block (shown only where someone can see them)."""
