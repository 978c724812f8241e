"""The files podbrief reads and writes, one module per kind: feeds, OPML, publisher transcripts and
transcripts, insights; documents.py names them all."""

from __future__ import annotations

import math
from typing import Any, TypeGuard


def is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool): what every score and time in podbrief's files must be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
