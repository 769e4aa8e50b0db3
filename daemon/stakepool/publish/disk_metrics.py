"""The ledger's disk, watched: the database's size and its filesystem's free space, refreshed
periodically off the event loop (``stat``/``statvfs`` block), and freed pages given back.

The alert rules (``deploy/prometheus/stakepool-rules.yml``) predict the filesystem filling from
the free bytes' trend (``predict_linear``) and fire below a floor of free space.
"""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import CollectorRegistry, Gauge

from stakepool.store import disk
from stakepool.store.database import STORE_ERRORS, Database

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL = 60.0
"""Seconds between refreshes: the trend over hours is what the alerts read."""


class DiskMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.database_bytes = Gauge(
            "stakepool_ledger_database_bytes",
            "Bytes the ledger's SQLite database takes on disk (file, WAL and shared memory).",
            registry=registry,
        )
        self.free_bytes = Gauge(
            "stakepool_ledger_filesystem_free_bytes",
            "Bytes free to the daemon on the filesystem that holds the ledger's database.",
            registry=registry,
        )
        self.size_bytes = Gauge(
            "stakepool_ledger_filesystem_size_bytes",
            "Size of the filesystem that holds the ledger's database, bytes.",
            registry=registry,
        )

    def set(self, figures: disk.DiskFigures) -> None:
        self.database_bytes.set(figures.database_bytes)
        self.free_bytes.set(figures.filesystem_free_bytes)
        self.size_bytes.set(figures.filesystem_size_bytes)


async def watch_disk(
    db: Database, metrics: DiskMetrics, *, interval: float = DEFAULT_INTERVAL
) -> None:
    """Runs until cancelled. A failure is logged and retried next time: watching the disk never
    stops the daemon (a full disk is when it matters most)."""
    while True:
        if not db.is_file:  # ``:memory:`` or a PostgreSQL server: no file of ours to watch
            await asyncio.sleep(interval)
            continue
        try:
            await db.write(disk.reclaim)
        except STORE_ERRORS as exc:
            log.warning("ledger_reclaim_failed", error=str(exc))
        if db.path != ":memory:":
            try:
                metrics.set(await asyncio.to_thread(disk.figures, db.path))
            except OSError as exc:
                log.warning("ledger_disk_unreadable", path=db.path, error=str(exc))
        await asyncio.sleep(interval)
