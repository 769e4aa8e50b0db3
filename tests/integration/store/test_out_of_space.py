"""A database that cannot grow (a full disk) refuses a write whole, says so with ``OutOfSpace``,
and takes the same write once there is room; the monitor keeps the events of a refused save for
the next one, so MQTT subscribers get every event late rather than never.

SQLite's ``PRAGMA max_page_count`` makes a real file refuse new pages with the very error a full
disk gives (``SQLITE_FULL``, "database or disk is full"); the reliability suite fills a real
filesystem (``tests/reliability/test_disk_full.py``).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.events import AttestationMissed
from stakepool.monitor.keeper import MonitorKeeper
from stakepool.store.database import Database, OutOfSpace
from stakepool.store.space import is_out_of_space
from tests.unit.monitor.test_saved import CHAIN, _saved


def _cap(conn: sqlite3.Connection) -> None:
    """No page beyond those the file has now: the next growing write fails as on a full disk."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count = {pages}")


def _uncap(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_database_refuses_the_whole_write_and_takes_it_when_there_is_room(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "full.sqlite")
    try:
        db.write_sync(lambda c: c.execute("CREATE TABLE t (n INTEGER, blob BLOB) STRICT"))
        db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (1, x'00')"))
        db.read_sync(_cap)

        def big(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (2, x'00')")  # fits: the write is refused whole
            conn.execute("INSERT INTO t VALUES (3, ?)", (b"\1" * 1_000_000,))

        with pytest.raises(OutOfSpace, match="database or disk is full"):
            db.write_sync(big)
        assert db.space.full
        assert db.space.failed_writes == 1
        assert db.read_sync(lambda c: c.execute("SELECT n FROM t").fetchall()) == [(1,)]
        # Not left inside a transaction: reads and a small write still work.
        assert db.read_sync(lambda c: c.in_transaction) is False
        db.read_sync(_uncap)
        db.write_sync(big)
        assert not db.space.full
        assert db.read_sync(lambda c: c.execute("SELECT n FROM t ORDER BY n").fetchall()) == [
            (1,),
            (2,),
            (3,),
        ]
    finally:
        db.close()


def test_other_failures_are_not_called_a_full_disk() -> None:
    assert is_out_of_space(OSError(errno.ENOSPC, "No space left on device"))
    assert is_out_of_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_out_of_space(OSError(errno.EACCES, "Permission denied"))
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(sqlite3.Error) as caught:
            conn.execute("SELECT * FROM missing")
        assert not is_out_of_space(caught.value)
    finally:
        conn.close()


async def test_the_monitor_keeps_the_events_of_a_refused_save_for_the_next(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "monitor.sqlite")
    try:
        keeper = MonitorKeeper(db, CHAIN, "pool", outbox_max_rows=1000)
        first = _missed(1, 3)
        second = _missed(2, 4)
        await keeper.save(_saved(), {}, [])  # the state's row exists: the cap leaves no page
        db.read_sync(_cap)
        with pytest.raises(OutOfSpace):
            await keeper.save(_saved(), {}, [first, *_padding(400)])
        assert db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM outbox").fetchone()) == (0,)
        db.read_sync(_uncap)
        await keeper.save(_saved(), {}, [second])
        ids = db.read_sync(
            lambda c: [r[0] for r in c.execute("SELECT event_id FROM outbox ORDER BY id")]
        )
        assert ids[0] == first.event_id, "the held events go first, in their order"
        assert ids[-1] == second.event_id
        assert len(ids) == 402
        assert keeper.held == []
    finally:
        db.close()


def _padding(n: int) -> list[AttestationMissed]:
    """Enough events that the outbox needs new pages."""
    return [_missed(1000 + i, 3) for i in range(n)]


def _missed(validator: int, epoch: int) -> AttestationMissed:
    return AttestationMissed(
        validator_index=ValidatorIndex(validator),
        epoch=Epoch(epoch),
        slot=Slot(epoch * 32),
        streak=1,
    )
