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
from pathlib import Path

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.digest import EpochDuties
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.listening import listen
from tests.integration.money.moneykit import settled as settled_epochs
from tests.integration.monitor.test_service import Recorder
from tests.integration.simkit import HaltingSimServer

SPE = 8
HALT_EPOCH = 10
LAST = HALT_EPOCH - 2
"""The last window a close settles: close 9 settles window 8."""


class LastWindowFault(Recorder):
    """``getPendingDeposits`` fails from the digest of ``LAST`` on (the read-ahead at close 8
    and the settlement at close 9), until the test heals the node."""

    def __init__(self, sim: HaltingSimServer) -> None:
        super().__init__()
        self.sim = sim
        self.healed = False

    def duties(self, report: EpochDuties) -> None:
        super().duties(report)
        if report.epoch >= LAST and not self.healed:
            self.sim.faults.set("getPendingDeposits", "server_error")

    def heal(self) -> None:
        self.healed = True
        self.sim.faults.clear("getPendingDeposits")


async def test_the_last_close_before_a_halt_settles_when_the_node_answers(
    tmp_path: Path,
) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=150, seed=11))
    db = tmp_path / "ledger.sqlite"
    sim = HaltingSimServer(chain, halt_slot=HALT_EPOCH * SPE)
    async with sim:
        rec = LastWindowFault(sim)
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
            while settled_epochs(db)[0] < LAST:
                assert time.monotonic() < deadline, (
                    f"window {LAST} was never settled after the halt: {settled_epochs(db)}"
                )
                assert not daemon.done(), daemon
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the retry's finality has committed
        finally:
            stop.set()
            code = await asyncio.wait_for(daemon, 20)
    assert code == 0
    assert stalled[0] == LAST - 1, f"the fault did not hold window {LAST} back: {stalled}"
    last_settled, last_final = settled_epochs(db)
    assert last_settled == LAST
    # As the undisturbed run: the finality seen at the halt (epoch 9's checkpoint) covers epoch 7.
    assert last_final == LAST - 1, last_final
