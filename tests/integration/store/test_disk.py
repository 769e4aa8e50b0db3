"""The ledger file gives freed pages back to its filesystem, and its disk is watched."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_write
from stakepool.publish.disk_metrics import DiskMetrics, watch_disk
from stakepool.store import disk
from stakepool.store.database import Database

FIXTURE = Path(__file__).parents[2] / "fixtures" / "ledger_before_compact" / "ledger.sqlite"


def _auto_vacuum(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    finally:
        conn.close()


def _input(epoch: int, validators: int) -> EpochSettlementInput:
    rows = tuple(
        # Varied figures: the packed detail then takes real pages to free.
        ValidatorEpochRow(v, (v * 7919 + epoch * 104729) % 1_000_003, {"head": v * epoch}, 0, True)
        for v in range(validators)
    )
    return EpochSettlementInput(epoch, sum(r.reward_gwei for r in rows), None, rows)


def test_new_and_small_old_ledgers_get_incremental_auto_vacuum(tmp_path: Path) -> None:
    Database.open(tmp_path / "new.sqlite").close()
    assert _auto_vacuum(tmp_path / "new.sqlite") == disk.INCREMENTAL
    old = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, old)
    assert _auto_vacuum(old) == 0  # written before: no auto-vacuum
    Database.open(old).close()
    assert _auto_vacuum(old) == disk.INCREMENTAL


def test_reversed_epochs_give_their_pages_back_to_the_filesystem(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    db = Database.open(path)
    for epoch in range(12):
        db.write_sync(
            partial(ledger_write.settle, inp=_input(epoch, 20_000), policy=LedgerPolicy())
        )
    db.write_sync(lambda c: ledger_write.revert_from(c, 2, reason="test: a deep reorg"))
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    before = os.stat(path).st_size  # the reversed detail's pages are free, still in the file
    free = db.read_sync(lambda c: int(c.execute("PRAGMA freelist_count").fetchone()[0]))
    assert free > 0
    left = free
    for _ in range(100):  # bounded: each call frees at most RECLAIM_PAGES
        left = db.write_sync(disk.reclaim)
        if left == 0:
            break
    assert left == 0
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    assert os.stat(path).st_size <= before - free * 4096
    db.close()


def _on_disk(path: Path) -> int:
    return sum(
        os.stat(f"{path}{suffix}").st_size
        for suffix in ("", "-wal", "-shm")
        if os.path.exists(f"{path}{suffix}")
    )


async def test_the_watch_publishes_the_database_size_and_the_free_space(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    db = Database.open(path)
    await db.write(partial(ledger_write.settle, inp=_input(0, 1000), policy=LedgerPolicy()))
    registry = CollectorRegistry()
    metrics = DiskMetrics(registry)

    def sample(name: str) -> float:
        return registry.get_sample_value(f"stakepool_ledger_{name}") or 0.0

    task = asyncio.create_task(watch_disk(db, metrics, interval=0.05))
    try:
        for _ in range(200):  # bounded wait for the first refresh
            if sample("database_bytes") > 0:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sample("database_bytes") == _on_disk(path)
    fs = os.statvfs(tmp_path)
    assert sample("filesystem_size_bytes") == fs.f_blocks * fs.f_frsize
    free = sample("filesystem_free_bytes")
    assert 0 < free <= fs.f_blocks * fs.f_frsize
    assert abs(free - fs.f_bavail * fs.f_frsize) < 64 * 1024 * 1024  # others write meanwhile
    db.close()
