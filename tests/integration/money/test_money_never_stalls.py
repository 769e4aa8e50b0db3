"""The daemon's ledger never stalls for good (issue 12, item 3), end to end: a pruning node
(states of its last two epochs only, blocks kept) stops serving balances and validators for
several epochs; once
it answers again the ledger catches up — the windows it could not read in time settled as one
merged window — with no epoch skipped, exact in total against the simulator's own books."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.money.moneykit import POOL, SCENARIO, SPE, VALIDATORS, detail_rows, sim_truth

BALANCES = "/eth/v1/beacon/states/{state_id}/validator_balances"
VALIDATORS_ROUTE = "/eth/v1/beacon/states/{state_id}/validators"
"""Both routes a window's states are read by: the ends come from the epoch report's validators
read when it succeeded (``rewards/known_states``), so the outage takes both."""
OUTAGE_EPOCHS = 5


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(query)]
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        conn.close()


def _last_settled(db: Path) -> int:
    rows = _rows(db, "SELECT MAX(epoch) FROM ledger_epochs")
    return -1 if not rows or rows[0][0] is None else int(str(rows[0][0]))


def _head_epoch(chain: SimChain) -> int:
    head = chain.state("head")
    assert head is not None
    return int(head.slot) // SPE


async def _until(
    what: str, done: Callable[[], bool], within: float, daemon: asyncio.Task[int]
) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert not daemon.done(), "the daemon stopped"
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.1)


async def test_the_ledger_catches_up_after_a_pruning_node_failed_for_epochs(
    tmp_path: Path,
) -> None:
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,
            scenario=SCENARIO,
            history_epochs=64,  # the sim's own books stay readable for the comparison
        )
    )
    db = tmp_path / "ledger.sqlite"
    stop = asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        sim.faults.state_history_slots = 2 * SPE  # stock Lodestar: states behind finality go
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 5, "retries": 0},
            pool={"id": "p", "validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
            ledger={"database": str(db)},
        )
        with structlog.testing.capture_logs() as logs:
            daemon = asyncio.create_task(run_daemon(settings, stop=stop, configure_logs=False))
            try:
                await _until("epoch 3 settled", lambda: _last_settled(db) >= 3, 60, daemon)
                sim.faults.set(BALANCES, "unavailable")
                sim.faults.set(VALIDATORS_ROUTE, "unavailable")
                outage_from = _head_epoch(chain)
                await _until(
                    "the outage",
                    lambda: _head_epoch(chain) >= outage_from + OUTAGE_EPOCHS,
                    60,
                    daemon,
                )
                sim.faults.clear(BALANCES)
                sim.faults.clear(VALIDATORS_ROUTE)
                caught_up = outage_from + OUTAGE_EPOCHS + 2
                await _until(
                    f"epoch {caught_up} settled",
                    lambda: _last_settled(db) >= caught_up,
                    60,
                    daemon,
                )
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, 20) == 0

    epochs = _rows(db, "SELECT epoch, merged_from, merged_to FROM ledger_epochs ORDER BY epoch")
    settled = [int(str(e[0])) for e in epochs]
    assert settled == list(range(settled[0], settled[-1] + 1))  # no epoch skipped
    merged = [(int(str(e[0])), e[1], e[2]) for e in epochs if e[1] is not None]
    assert merged, "the node no longer served the outage's states: a merged window settled them"
    assert [e for e in logs if e["event"] == "ledger_window_merged"]
    # Exact in total: over every settled epoch, each validator's rewards are what the
    # simulator's books say (merged spans exact in total, the other epochs exact each).
    rows = detail_rows(db)  # (epoch, index, reward, …)
    for v in POOL:
        got = sum(int(r[2]) for r in rows if int(r[1]) == v)
        truth = sum(sim_truth(chain, k, v) for k in settled)
        assert got == truth, v
