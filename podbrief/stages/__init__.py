"""The pipeline stages, in order: fetch -> transcribe -> extract -> rank -> today.

Every stage that works on episodes exposes `run_pending(...) -> StageReport`, so
`today` can drive them one after another and report what happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from podbrief.errors import PartialFailure, PodbriefError


@dataclass
class StageReport:
    """What one stage run did. Failures are per episode: one bad episode never stops the others."""

    stage: str
    done: list[str] = field(default_factory=list)  # episode ids finished in this run
    failed: dict[str, str] = field(default_factory=dict)  # episode id -> one-line error
    skipped: int = 0  # already finished earlier (nothing to redo)
    remaining: int = 0  # not started because the time budget ran out

    def to_json(self) -> dict[str, object]:
        return {"stage": self.stage, "done": self.done, "failed": self.failed,
                "skipped": self.skipped, "remaining": self.remaining}

    def failure(self) -> PodbriefError | None:
        """What the command raises (its exit status), or None when nothing failed; like black's Report.return_code."""
        if not self.failed:
            return None
        return PartialFailure(f"{self.stage} failed for {len(self.failed)} episode(s): "
                              + "; ".join(f"{k}: {v}" for k, v in self.failed.items()))


@dataclass(frozen=True)
class Budget:
    """A soft deadline: heavy work is not *started* after it, work in progress finishes."""

    deadline: float | None = None  # time.monotonic() value; None = unlimited

    @classmethod
    def minutes(cls, minutes: float | None) -> Budget:
        return cls(None if minutes is None else time.monotonic() + minutes * 60)

    def exhausted(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline
