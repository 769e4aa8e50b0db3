"""Small JSON documents of state kept across restarts, one a key (the monitor's trackers)."""

from __future__ import annotations

from stakepool.store.engine import Connection, dialect_of


def load(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kept_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def save(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO kept_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"  # noqa: S608
        f" value = excluded.value, updated_at = {dialect_of(conn).now}",
        (key, value),
    )


def keys(conn: Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT key FROM kept_state ORDER BY key")]
