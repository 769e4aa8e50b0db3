"""The writer's lock and term on a real PostgreSQL, without daemons: one instance writes, the
other is refused naming it; the writer's session lost, the standby takes over with a new term,
and the old writer's next write is refused and changes nothing — even one it had begun."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from stakepool.store import kept_state, outbox
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from stakepool.store.outbox_event import OutboxEvent
from stakepool.store.outbox_queue import OutboxQueue
from stakepool.store.writer import NotWriterError, WriterLease, store_session_settings
from tests.integration import pgkit

LEASE = 1.0


def _instance(url: str, name: str) -> tuple[Database, WriterLease]:
    db = Database.open(url)
    lease = WriterLease(url, None, instance=name, lease_seconds=LEASE)
    db.configure_session(store_session_settings(LEASE))
    db.fence = lease.check
    return db, lease


def _row(url: str) -> tuple[int, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT term, holder FROM ledger_writer").fetchone()
    assert found is not None
    return int(found[0]), str(found[1])


def _keep(value: str) -> object:
    return lambda c: kept_state.save(c, "k", value)


async def test_one_writer_a_fenced_old_writer_and_a_takeover(postgres_admin: str) -> None:
    with pgkit.fresh_database(postgres_admin) as url:
        (db_a, a), (db_b, b) = _instance(url, "a"), _instance(url, "b")
        try:
            assert a.step() == "writer", a.last_error
            assert b.step() == "standby", b.last_error
            assert _row(url) == (1, "a")
            db_a.write_sync(_keep("from a"))  # type: ignore[arg-type]
            with pytest.raises(
                NotWriterError, match=r"\(b\) is a standby: .*writer is a \(term 1\)"
            ):
                db_b.write_sync(_keep("from b"))  # type: ignore[arg-type]
            # A standby's outbox shows its depth but hands no row to its publisher.
            event = OutboxEvent("e-1", "epoch_settled", None, "{}")
            db_a.write_sync(lambda c: outbox.enqueue(c, [event], max_rows=10))
            assert [
                r.event_id for r in (await OutboxQueue(db_a, active=a.is_writer).snapshot(5)).rows
            ] == ["e-1"]
            standby = await OutboxQueue(db_b, active=b.is_writer).snapshot(5)
            assert (standby.rows, standby.depth) == ([], 1)

            # a's lease session dies (a paused writer's, ended by idle_session_timeout).
            assert a._session is not None
            pid = a._session.info.backend_pid
            with psycopg.connect(postgres_admin, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + 5 * LEASE
            while b.step() != "writer":
                assert time.monotonic() < deadline, "b never took the lock over"
                await asyncio.sleep(LEASE / 4)
            assert _row(url) == (2, "b")
            db_b.write_sync(_keep("from b"))  # type: ignore[arg-type]

            # a still believes it writes (it has not stepped since): the term refuses it.
            def late(conn: Connection) -> None:
                kept_state.save(conn, "k", "late write from a")

            with pytest.raises(NotWriterError, match=r"\(a\) lost the writer's lock: b writes now"):
                db_a.write_sync(late)
            assert not a.is_writer()
            assert db_a.read_sync(lambda c: kept_state.load(c, "k")) == "from b"
            assert a.step() == "standby"  # the lock is b's: a stays a standby
            assert _row(url) == (2, "b")
        finally:
            for lease in (a, b):
                lease.close()
            db_a.close()
            db_b.close()


def test_a_clean_stop_hands_the_lock_over_at_once(postgres_admin: str) -> None:
    with pgkit.fresh_database(postgres_admin) as url:
        (db_a, a), (db_b, b) = _instance(url, "a"), _instance(url, "b")
        try:
            assert (a.step(), b.step()) == ("writer", "standby")
            a.close()
            # The server frees the lock as the session's backend exits: at b's next try or so.
            deadline = time.monotonic() + LEASE
            while b.step() != "writer":
                assert time.monotonic() < deadline, "b did not take the lock a gave up"
                time.sleep(LEASE / 20)
            assert _row(url) == (2, "b")
        finally:
            b.close()
            db_a.close()
            db_b.close()
