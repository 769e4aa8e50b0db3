"""What a call into the store raises when the database fails, engine-free for callers."""

from __future__ import annotations

import sqlite3

import psycopg


class DatabaseError(Exception):
    """The database cannot be used as it is (unreadable, newer schema, failed migration)."""


class OutOfSpace(DatabaseError):
    """A write failed for lack of space on the database's filesystem (or PostgreSQL's); its
    transaction was rolled back whole. Not fatal: the same write succeeds once there is room
    again (``store/space``)."""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL's session was lost during the call (the server restarted, the network cut it):
    the call's transaction did not commit, and the next call opens a new session."""


STORE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, sqlite3.Error, psycopg.Error)
"""What a call into the store may raise when the database fails (the disk, a lock, a closed
database): callers outside ``store/`` catch these without knowing the engine."""
