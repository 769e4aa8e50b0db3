"""A close that could not settle its window is tried again before the next close.

The chain halts after epoch 9 closes, and that close cannot read window 8 (the node fails
``pending_deposits`` from close 8 on, through every retry within the slot). No close comes again,
yet once the node answers, epoch 8 is settled, with the finality the undisturbed run has. Before,
nothing tried the money path between closes but a full disk's pause: the corrupting proxy's soak
ended with such a ledger one epoch short.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.digest import EpochDuties
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.listening import listen
from tests.integration.money.moneykit import detail_rows
from tests.integration.money.moneykit import settled as settled_epochs
from tests.integration.monitor.test_service import Recorder
from tests.integration.simkit import HaltingSimServer

SPE = 8
HALT_EPOCH = 10
LAST = HALT_EPOCH - 2
"""The last window a close settles: close 9 settles window 8."""


class LastWindowFault(Recorder):
    """``route`` fails from the digest of ``first`` on (that close's read-ahead and the next
    closes), until the test heals the node."""

    def __init__(self, sim: HaltingSimServer, route: str, first: int) -> None:
        super().__init__()
        self.sim = sim
        self.route = route
        self.first = first
        self.healed = False

    def duties(self, report: EpochDuties) -> None:
        super().duties(report)
        if report.epoch >= self.first and not self.healed:
            self.sim.faults.set(self.route, "server_error")

    def heal(self) -> None:
        self.healed = True
        self.sim.faults.clear(self.route)


async def _run_until(
    tmp_path: Path, route: str, first: int, done: Callable[[Path], bool]
) -> tuple[Path, tuple[int, int]]:
    """The daemon on a chain halting after close 9, ``route`` failing from close ``first``
    until ten slots after close 9 began; then until ``done(db)`` (15 s at most). Returns the
    ledger and its (settled, final) epochs just before the node was healed."""
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=150, seed=11))
    db = tmp_path / "ledger.sqlite"
    sim = HaltingSimServer(chain, halt_slot=HALT_EPOCH * SPE)
    async with sim:
        rec = LastWindowFault(sim, route, first)
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 0},
            pool={"validators": [parse_validator_ref(v) for v in range(8)]},
            http={"port": 0},
            ledger={"database": str(db)},
        )
        stop = asyncio.Event()
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, listeners=[listen(rec)], configure_logs=False)
        )
        try:
            deadline = time.monotonic() + 40
            while not any(d.epoch == HALT_EPOCH - 1 for d in rec.digests):  # close 9 has begun
                assert time.monotonic() < deadline, rec.digests[-1:]
                assert not daemon.done(), daemon
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)  # ten slots: close 9's money step and its retries failed
            stalled = settled_epochs(db)
            rec.heal()
            deadline = time.monotonic() + 15  # 100 slots; the retries come 1, 2, 4… slots apart
            while not done(db):
                assert time.monotonic() < deadline, (
                    f"not caught up after the halt: {settled_epochs(db)}"
                )
                assert not daemon.done(), daemon
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the retry's finality has committed
        finally:
            stop.set()
            code = await asyncio.wait_for(daemon, 20)
    assert code == 0
    return db, stalled


async def test_the_last_close_before_a_halt_settles_when_the_node_answers(
    tmp_path: Path,
) -> None:
    db, stalled = await _run_until(
        tmp_path, "getPendingDeposits", LAST, lambda db: settled_epochs(db)[0] >= LAST
    )
    assert stalled[0] == LAST - 1, f"the fault did not hold window {LAST} back: {stalled}"
    last_settled, last_final = settled_epochs(db)
    assert last_settled == LAST
    # As the undisturbed run: the finality seen at the halt (epoch 9's checkpoint) covers epoch 7.
    assert last_final == LAST - 1, last_final


def _explained(db: Path, epochs: range) -> bool:
    rows = [r for r in detail_rows(db) if r[0] in epochs] if db.exists() else []
    return bool(rows) and all(r[3] is not None for r in rows)


async def test_rows_settled_unexplained_before_a_halt_are_explained_when_the_node_answers(
    tmp_path: Path,
) -> None:
    """The rewards endpoints fail from close 7 on: epochs 7 and 8 are settled without their
    explanation (money never waits for it), and 7 turns final at close 9. No close comes again,
    yet once the node answers both are explained — the final row too, as an undisturbed run
    explained it at once."""
    late = range(LAST - 1, LAST + 1)
    db, stalled = await _run_until(
        tmp_path, "getAttestationsRewards", LAST - 1, lambda db: _explained(db, late)
    )
    assert stalled == (LAST, LAST - 1), stalled
    rows = [r for r in detail_rows(db) if r[0] in late]
    assert {r[0] for r in rows} == set(late)
    assert all(r[3] is not None and r[4] is not None for r in rows)  # components and residual
    assert {r[0]: r[-1] for r in rows}[LAST - 1] == "final"
