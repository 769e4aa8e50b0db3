"""The SQLite foundation: durable settings, migrations, transactions, the outbox and kept state."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from stakepool.store import kept_state, outbox
from stakepool.store.database import (
    Database,
    DatabaseError,
    Migration,
    bundled_migrations,
)
from stakepool.store.engine import Connection
from stakepool.store.envelope import SCHEMA_VERSION, outbox_event
from stakepool.store.outbox_event import OutboxEvent


def _event(n: int, severity: str | None = None) -> OutboxEvent:
    return OutboxEvent(
        event_id=f"id-{n}", kind="duty_missed", severity=severity, payload=f'{{"n":{n}}}'
    )


def test_open_sets_durable_pragmas_and_applies_every_migration(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "ledger.sqlite")
    try:
        assert db.schema_version == len(bundled_migrations()) >= 1
        assert db.read_sync(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
        # FULL = 2: a committed epoch survives a power cut.
        assert db.read_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2
        assert db.read_sync(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    finally:
        db.close()
    again = Database.open(tmp_path / "ledger.sqlite")  # re-opening applies nothing twice
    try:
        versions = again.read_sync(
            lambda c: [r[0] for r in c.execute("SELECT version FROM schema_migrations")]
        )
        assert versions == list(range(1, len(bundled_migrations()) + 1))
    finally:
        again.close()


def test_tables_are_strict(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "l.sqlite")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="cannot store TEXT value in INTEGER"):
            db.write_sync(
                lambda c: c.execute("INSERT INTO counters (name, value) VALUES ('x', 'many')")
            )
    finally:
        db.close()


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Database.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match=r"schema version 999.*newer release"):
        Database.open(path)


def test_a_failed_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER) STRICT;")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER) STRICT;\nCREATE TABLE a (y INTEGER);")
    with pytest.raises(DatabaseError, match="migration 0002_bad failed"):
        Database.open(path, migrations=(good, bad))
    db = Database.open(path, migrations=(good,))
    try:
        assert db.schema_version == 1
        tables = db.read_sync(
            lambda c: {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        )
        assert "b" not in tables  # the half of migration 2 that ran was rolled back
    finally:
        db.close()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        Database.open(tmp_path / "nope" / "l.sqlite")


def test_write_is_all_or_nothing(db_target: str) -> None:
    db = Database.open(db_target)

    def half_then_fail(conn: Connection) -> None:
        outbox.enqueue(conn, [_event(1)], max_rows=10)
        raise RuntimeError("crash after the first write")

    try:
        with pytest.raises(RuntimeError):
            db.write_sync(half_then_fail)
        assert db.read_sync(outbox.depth) == 0
    finally:
        db.close()


async def test_async_calls_run_in_order_on_the_database_thread(db_target: str) -> None:
    db = Database.open(db_target)
    try:
        await asyncio.gather(
            *(
                db.write(lambda c, n=n: outbox.enqueue(c, [_event(n)], max_rows=1000))
                for n in range(50)
            )
        )
        rows = await db.read(lambda c: outbox.pending(c, 100))
        assert sorted(r.event_id for r in rows) == sorted(f"id-{n}" for n in range(50))
    finally:
        db.close()


def test_outbox_dedupes_event_ids_and_acks_oldest_first(db_target: str) -> None:
    db = Database.open(db_target)
    try:
        db.write_sync(lambda c: outbox.enqueue(c, [_event(1), _event(2), _event(1)], max_rows=10))
        db.write_sync(lambda c: outbox.enqueue(c, [_event(2), _event(3, "critical")], max_rows=10))
        rows = db.read_sync(lambda c: outbox.pending(c, 10))
        assert [r.event_id for r in rows] == ["id-1", "id-2", "id-3"]
        assert rows[2].severity == "critical"
        db.write_sync(lambda c: outbox.ack(c, [rows[0].id, rows[1].id]))
        assert [r.event_id for r in db.read_sync(lambda c: outbox.pending(c, 10))] == ["id-3"]
    finally:
        db.close()


def test_outbox_bound_drops_oldest_and_counts_across_restarts(db_target: str) -> None:
    path = db_target
    db = Database.open(path)
    try:
        dropped = db.write_sync(
            lambda c: outbox.enqueue(c, [_event(n) for n in range(7)], max_rows=5)
        )
        assert dropped == 2
        assert [r.event_id for r in db.read_sync(lambda c: outbox.pending(c, 10))] == [
            f"id-{n}" for n in range(2, 7)
        ]
    finally:
        db.close()
    db = Database.open(path)
    try:
        db.write_sync(lambda c: outbox.enqueue(c, [_event(7)], max_rows=5))
        assert db.read_sync(outbox.dropped_total) == 3
        assert db.read_sync(outbox.depth) == 5
    finally:
        db.close()


def test_kept_state_round_trips_and_survives_reopen(db_target: str) -> None:
    path = db_target
    db = Database.open(path)
    try:
        assert db.read_sync(lambda c: kept_state.load(c, "monitor")) is None
        db.write_sync(lambda c: kept_state.save(c, "monitor", '{"a":1}'))
        db.write_sync(lambda c: kept_state.save(c, "monitor", '{"a":2}'))
    finally:
        db.close()
    db = Database.open(path)
    try:
        assert db.read_sync(lambda c: kept_state.load(c, "monitor")) == '{"a":2}'
        assert db.read_sync(kept_state.keys) == ["monitor"]
    finally:
        db.close()


def test_envelope_carries_schema_id_and_chain_coordinates() -> None:
    event = outbox_event(
        kind="block_missed",
        event_id="abc",
        severity="warning",
        pool_id="p1",
        epoch=12,
        slot=390,
        validator_index=7,
        data={"reason": "no block"},
        timestamp=1_700_000_000.25,
    )
    body = json.loads(event.payload)
    assert body == {
        "schema_version": SCHEMA_VERSION,
        "event_id": "abc",
        "kind": "block_missed",
        "severity": "warning",
        "pool_id": "p1",
        "chain": {"epoch": 12, "slot": 390, "validator_index": 7},
        "timestamp": "2023-11-14T22:13:20.250+00:00",
        "data": {"reason": "no block"},
    }
    assert (event.event_id, event.kind, event.severity) == ("abc", "block_missed", "warning")
