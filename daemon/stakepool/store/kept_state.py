"""Small JSON documents of state kept across restarts, one a key (the monitor's trackers)."""

from __future__ import annotations

import sqlite3


def load(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kept_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def save(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO kept_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"
        " value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (key, value),
    )


def keys(conn: sqlite3.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT key FROM kept_state ORDER BY key")]
