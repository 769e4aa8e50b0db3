"""A write that failed for lack of space: recognised, named, and remembered until one succeeds.

A full disk is not a bug and not fatal: the write's transaction is rolled back whole (nothing half
written), the caller gets ``OutOfSpace`` (a ``DatabaseError``, so it is one of ``STORE_ERRORS``)
and decides what pauses; ``SpaceState`` says since when the database could not write, for
``/readyz`` and the metrics, until the next write commits. SQLite reports ENOSPC as
``SQLITE_FULL`` ("database or disk is full"), PostgreSQL as SQLSTATE 53100 (``DiskFull``); a file
written beside it raises ``OSError``.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from dataclasses import dataclass

import psycopg

_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` says the filesystem (or the user's quota) has no room for the write."""
    if isinstance(exc, OSError):
        return exc.errno in _SPACE_ERRNOS
    if isinstance(exc, psycopg.errors.DiskFull):  # SQLSTATE 53100: the server's disk
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return int(code) & 0xFF == sqlite3.SQLITE_FULL
        return "database or disk is full" in str(exc)
    return False


@dataclass(slots=True)
class SpaceState:
    """Whether the database's last write failed for lack of space (and since when)."""

    reason: str | None = None
    since: float | None = None
    """``time.monotonic()`` of the first failed write of this spell."""
    failed_writes: int = 0
    """Writes refused for lack of space since the process started (a counter)."""

    @property
    def full(self) -> bool:
        return self.reason is not None

    def refused(self, reason: str) -> None:
        self.failed_writes += 1
        if self.since is None:
            self.since = time.monotonic()
        self.reason = reason

    def committed(self) -> None:
        self.reason = None
        self.since = None

    def seconds_full(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since
