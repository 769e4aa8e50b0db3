"""The ledger file on its disk: freed pages returned to the filesystem, and what it occupies.

Incremental auto-vacuum: a page freed by a delete (a reorg's reversal, later the retention's
prune) goes to the file's free list; ``reclaim`` truncates up to a bounded number of them, in a
short transaction, so the file shrinks without a full ``VACUUM`` (which rewrites the whole file,
needs its size again in free space and holds the write lock throughout).

A new file gets it before its first table (the mode is then fixed in its header); an existing
file without it is converted once, by a ``VACUUM``, only while that is cheap (at most
``CONVERT_MAX_BYTES``); a bigger one keeps working unchanged and says so in ``figures``.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from stakepool.store.engine import Connection

INCREMENTAL = 2
"""``PRAGMA auto_vacuum`` value of incremental mode."""
CONVERT_MAX_BYTES = 256 * 1024 * 1024
"""Largest existing file converted on open: a VACUUM of 256 MiB takes seconds, not minutes."""
RECLAIM_PAGES = 2048
"""Pages truncated per ``reclaim`` (8 MiB at 4 KiB pages): a short hold of the write lock."""


def prepare(conn: sqlite3.Connection) -> None:
    """Before any table exists (a new file): incremental auto-vacuum from the start."""
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")


def convert_if_cheap(conn: sqlite3.Connection, path: str) -> bool:
    """An existing file without incremental auto-vacuum gets it by one ``VACUUM`` (outside any
    transaction) if it is small enough; True if the file now has it."""
    if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == INCREMENTAL:
        return True
    if path == ":memory:" or database_bytes(path) > CONVERT_MAX_BYTES:
        return False
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")
    return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == INCREMENTAL


def reclaim(conn: Connection, pages: int = RECLAIM_PAGES) -> int:
    """Return up to ``pages`` free pages to the filesystem; the number of free pages left."""
    conn.execute(f"PRAGMA incremental_vacuum({int(pages)})")
    return int(conn.execute("PRAGMA freelist_count").fetchone()[0])


def database_bytes(path: str) -> int:
    """The file and its WAL and shared-memory files: what the ledger takes on its disk."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.stat(path + suffix).st_size
        except FileNotFoundError:
            continue
    return total


@dataclass(frozen=True, slots=True)
class DiskFigures:
    database_bytes: int
    filesystem_free_bytes: int
    """Free to an unprivileged writer (``f_bavail``): what the daemon can still write."""
    filesystem_size_bytes: int


def figures(path: str) -> DiskFigures:
    """Blocking (``stat``/``statvfs``): call it off the event loop."""
    fs = os.statvfs(Path(path).resolve().parent)
    return DiskFigures(
        database_bytes=database_bytes(path),
        filesystem_free_bytes=fs.f_bavail * fs.f_frsize,
        filesystem_size_bytes=fs.f_blocks * fs.f_frsize,
    )
