"""One exception type per kind of failure, each mapped to a documented exit code.

The CLI turns any `PodbriefError` into one stderr line and its `exit_status`;
anything else is a bug and exits with `ExitStatus.ERROR`.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    NETWORK = 4
    LOCKED = 5
    PARTIAL = 6
    INPUT = 7
    MODEL = 8
    NOTHING_NEW = 9
    DELIVERY = 10
    STORAGE = 11
    INTERRUPTED = 130


class PodbriefError(Exception):
    exit_status = ExitStatus.ERROR


class UsageError(PodbriefError):
    exit_status = ExitStatus.USAGE


class ConfigError(PodbriefError):
    exit_status = ExitStatus.CONFIG


class NetworkError(PodbriefError):
    exit_status = ExitStatus.NETWORK


class LockedError(PodbriefError):
    exit_status = ExitStatus.LOCKED


class PartialFailure(PodbriefError):
    """Some items of a batch failed; the rest finished and were saved."""

    exit_status = ExitStatus.PARTIAL


class InputError(PodbriefError):
    """A bad input file: corrupt audio, a foreign or corrupt transcript/insight file."""

    exit_status = ExitStatus.INPUT


class ModelError(PodbriefError):
    exit_status = ExitStatus.MODEL


class NothingNew(PodbriefError):
    exit_status = ExitStatus.NOTHING_NEW


class DeliveryError(PodbriefError):
    exit_status = ExitStatus.DELIVERY


class StorageError(PodbriefError):
    """The data directory cannot be read or written: disk full, read-only, no permission, I/O error."""

    exit_status = ExitStatus.STORAGE


def describe(exc: Exception) -> str:
    """One line for the failure of one item of a batch (a feed, an episode), so the others go on.

    A `PodbriefError` is its message; anything else is named as unexpected, with its type.
    """
    if isinstance(exc, PodbriefError):
        return str(exc)
    return f"unexpected error: {type(exc).__name__}: {exc}"
