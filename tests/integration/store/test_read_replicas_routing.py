"""``ReadReplicas`` on a real PostgreSQL: which server answers a read when a replica is down, and
what is (not) retried. The "replica" here is a second session on the test database (a real
streaming standby: ``money/test_read_replicas.py``); the session's ``application_name`` tells the
replica's reads (``stakepool-reads``) from the primary's (``stakepool``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest
import structlog

from stakepool.store.database import Database
from stakepool.store.engine import Connection
from stakepool.store.replicas import ReadReplicas
from tests.integration import pgkit
from tests.integration.processes import free_port


def _who(conn: Connection) -> str:
    return str(
        conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()[0]
    )


@pytest.fixture
def url(postgres_admin: str) -> Iterator[str]:
    with pgkit.fresh_database(postgres_admin) as found:
        yield found


def _dead(url: str) -> str:
    """The same database on a port nothing listens on, with a password to keep out of logs."""
    host = url.split("@", 1)[1].split(":", 1)[0]
    return f"postgresql://postgres:Dead-Replica-Pw@{host}:{free_port()}/" + url.rsplit("/", 1)[1]


async def test_a_dead_replica_is_skipped_and_the_primary_answers_when_none_is_left(
    url: str,
) -> None:
    primary = Database.open(url)
    replicas = ReadReplicas(primary, [_dead(url), url], retry_seconds=0.3)
    try:
        with structlog.testing.capture_logs() as logs:
            answered = [await replicas.read(_who) for _ in range(4)]
        assert answered == ["stakepool-reads"] * 4  # the live replica, whichever turn
        assert replicas.fallbacks == 0
        warned = [e for e in logs if e["event"] == "ledger_read_replica_failed"]
        assert len(warned) == 1  # then left alone for retry_seconds
        assert "Dead-Replica-Pw" not in repr(warned)
        assert replicas.snapshot_sync(_who) == "stakepool-reads"
        assert math.isnan(next(iter(replicas.lags().values())))  # not a standby: no lag
    finally:
        replicas.close()

    alone = ReadReplicas(primary, [_dead(url)], retry_seconds=0.3)
    try:
        with structlog.testing.capture_logs() as logs:
            assert await alone.read(_who) == "stakepool"
            assert await alone.read(_who) == "stakepool"  # left alone: no second attempt
            assert alone.snapshot_sync(_who) == "stakepool"
            await asyncio.sleep(0.35)
            assert await alone.read(_who) == "stakepool"  # tried again, still dead
        assert alone.fallbacks == 4
        assert [e["event"] for e in logs].count("ledger_read_replica_failed") == 2
    finally:
        alone.close()
        primary.close()


async def test_a_reads_own_error_is_the_callers_and_not_retried(url: str) -> None:
    primary = Database.open(url)
    replicas = ReadReplicas(primary, [url])
    calls: list[str] = []

    def refused(conn: Connection) -> None:
        calls.append(_who(conn))
        raise ValueError("a cursor we never handed out")

    try:
        with pytest.raises(ValueError, match="never handed out"):
            await replicas.read(refused)
        assert calls == ["stakepool-reads"]
        assert replicas.fallbacks == 0
        assert await replicas.read(_who) == "stakepool-reads"  # not marked down
    finally:
        replicas.close()
        primary.close()
