"""Restarting the daemon mid-scenario neither repeats nor loses a monitor event, and the duty
counters go on from where they were.

Two identical simulated chains (the scripted scenario of ``test_monitor_service``, genesis a
moment in the future so both daemons close epoch 0 first): one daemon follows the first without
interruption; a second daemon follows the other, is stopped after epoch 3 (a stop may land in the
middle of epoch 4's work), stays down for two epochs while the chain goes on, and is started again
on the same database. Both are compared once epoch ``LAST`` is processed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path

import structlog

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.eventbase import EventKind
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain
from stakepool.sim.server import SimServer
from tests.integration.listening import listen
from tests.integration.monitor.test_service import (
    MISSED_SLOT,
    ORPHANED_SLOT,
    POOL,
    SPE,
    Recorder,
    _scenario,
    _scrape,
)
from tests.integration.simkit import live_chain

LAST = 7
STOP_AFTER = 3
DUTY_FAMILIES = (
    "stakepool_attestations_total",
    "stakepool_attestation_misses_total",
    "stakepool_attestation_missed_streak",
    "stakepool_attestation_inclusion_delay_slots_bucket",
    "stakepool_attestation_inclusion_delay_slots_count",
    "stakepool_attestation_inclusion_delay_slots_sum",
    "stakepool_proposals_total",
    "stakepool_sync_committee_signatures_total",
    "stakepool_slashing_evidence_total",
)

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _chain() -> SimChain:
    return live_chain(
        100,
        validators=128,
        seed=3,
        scenario=_scenario(
            missed_slots=frozenset({MISSED_SLOT}), orphaned_slots=frozenset({ORPHANED_SLOT})
        ),
        genesis_in=3,  # both daemons are up before genesis
    )


def _settings(url: str, database: Path) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0},
        ledger={"database": str(database)},
    )


class Run:
    """One daemon life: until the digest of ``until`` is told; the told events up to then."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.cut = 0
        self.metrics: Scrape = {}

    async def __call__(self, settings: Settings, until: int, *, scrape: bool = False) -> None:
        urls: list[str] = []
        stop = asyncio.Event()
        daemon = asyncio.create_task(
            run_daemon(
                settings,
                stop=stop,
                listeners=[listen(self.rec)],
                configure_logs=False,
                on_listening=urls.append,
                outbox_max_rows=100_000,
            )
        )
        deadline = time.monotonic() + 40
        while not any(d.epoch >= until for d in self.rec.digests):
            assert time.monotonic() < deadline, [d.epoch for d in self.rec.digests]
            assert not daemon.done(), daemon
            await asyncio.sleep(0.01)
        self.cut = len(self.rec.events)
        if scrape:
            for _ in range(3):  # between two epochs: the counters hold exactly the digests seen
                seen = len(self.rec.digests)
                self.metrics = await _scrape(urls[0])
                if len(self.rec.digests) == seen:
                    break
            assert self.rec.digests[-1].epoch == until
        stop.set()
        assert await asyncio.wait_for(daemon, 10) == 0


def _outbox(database: Path) -> list[str]:
    """The monitor's events in the outbox (the ledger's own, e.g. epoch_settled, are not ours)."""
    kinds = [kind.value for kind in EventKind]
    marks = ",".join("?" * len(kinds))
    query = f"SELECT event_id FROM outbox WHERE kind IN ({marks}) ORDER BY id"
    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute(query, kinds)]


def _duties(metrics: Scrape) -> Scrape:
    return {k: v for k, v in metrics.items() if k[0] in DUTY_FAMILIES}


async def test_a_restart_mid_scenario_repeats_and_loses_nothing(tmp_path: Path) -> None:
    reference, interrupted = Recorder(), Recorder()
    ref_run, run = Run(reference), Run(interrupted)
    ref_db, db = tmp_path / "reference.sqlite", tmp_path / "interrupted.sqlite"
    async with (
        SimServer(_chain(), auto_advance=True) as a,
        SimServer(_chain(), auto_advance=True) as b,
    ):
        both = asyncio.gather(
            ref_run(_settings(a.url, ref_db), LAST, scrape=True),
            _interrupted(run, _settings(b.url, db), b),
        )
        await both

    # Every closed epoch processed exactly once across the two lives, none skipped.
    assert [d.epoch for d in reference.digests][: LAST + 1] == list(range(LAST + 1))
    closed = [d.epoch for d in interrupted.digests]
    assert closed[: LAST + 1] == list(range(LAST + 1)), closed
    assert not any(d.failed for d in interrupted.digests)

    told_ref = Counter(e.event_id for e in reference.events[: ref_run.cut])
    told = Counter(e.event_id for e in interrupted.events[: run.cut])
    assert max(told.values()) == 1, "an event was told twice"
    kinds = {e.event_id: e.kind.value for e in reference.events}
    assert told == told_ref, (
        sorted(kinds.get(i, i) for i in told_ref - told),  # lost
        sorted(kinds.get(i, i) for i in told - told_ref),  # extra
    )
    # The scenario's faults are among them (the test would be empty otherwise).
    assert {"attestation_streak", "block_missed", "block_orphaned", "slashing_evidence"} <= {
        e.kind.value for e in interrupted.events
    }

    # What was stored is what was told: the outbox holds each told event once.
    for database, rec in ((ref_db, reference), (db, interrupted)):
        stored = _outbox(database)
        assert len(stored) == len(set(stored))
        assert Counter(stored) == Counter(e.event_id for e in rec.events)

    # The counters went on from their saved totals: equal to the uninterrupted run's.
    assert _duties(run.metrics), "no duty series scraped"
    assert _duties(run.metrics) == _duties(ref_run.metrics)


async def _interrupted(run: Run, settings: Settings, sim: SimServer) -> None:
    await run(settings, STOP_AFTER)
    down_until = sim.chain.head_slot + 2 * SPE  # the chain goes on while the daemon is down
    deadline = time.monotonic() + 20
    while sim.chain.head_slot < down_until:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await run(settings, LAST, scrape=True)


async def test_an_unusable_database_stops_the_start_with_one_line_and_exit_1(
    tmp_path: Path,
) -> None:
    settings = _settings("http://127.0.0.1:1", tmp_path / "no-such-dir" / "state.sqlite")
    with structlog.testing.capture_logs() as logs:
        code = await asyncio.wait_for(run_daemon(settings, configure_logs=False), 10)
    assert code == 1
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["database_unusable"]
    assert "no-such-dir" in errors[0]["error"]
