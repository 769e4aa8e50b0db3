"""A window settled late, at a close whose finality already covers it, is final at once.

Window 7 cannot be read at its own closes (the node fails ``pending_deposits`` while epochs 7 and
8 close); close 9 settles it with the finalized checkpoint past it. Finality used to be applied
before that close's settlement only, so epoch 7 stayed provisional until a next close — which
never comes when the chain halts (the reliability suite's corrupting proxy ended with such a
ledger, unlike the undisturbed run's).
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
LATE = 7


class WindowFault(Recorder):
    """``getPendingDeposits`` fails from the digest of ``LATE`` until that of ``LATE + 2``: the
    read-ahead at close 7 and the settlement at close 8 fail, close 9 reads it."""

    def __init__(self, sim: HaltingSimServer) -> None:
        super().__init__()
        self.sim = sim

    def duties(self, report: EpochDuties) -> None:
        super().duties(report)
        if report.epoch in (LATE, LATE + 1):
            self.sim.faults.set("getPendingDeposits", "server_error")
        else:
            self.sim.faults.clear("getPendingDeposits")


async def test_a_window_settled_after_its_finality_is_final_at_once(tmp_path: Path) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=150, seed=11))
    db = tmp_path / "ledger.sqlite"
    sim = HaltingSimServer(chain, halt_slot=HALT_EPOCH * SPE)
    async with sim:
        rec = WindowFault(sim)
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
            # Until close 9 is done (its digest told) and epoch 8 settled; then no close comes.
            while not (
                any(d.epoch == HALT_EPOCH - 1 for d in rec.digests)
                and db.exists()
                and settled_epochs(db)[0] >= HALT_EPOCH - 2
            ):
                assert time.monotonic() < deadline, (rec.digests[-1:], settled_epochs(db))
                assert not daemon.done(), daemon
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # the close's money step has committed
        finally:
            stop.set()
            code = await asyncio.wait_for(daemon, 20)
    assert code == 0
    last_settled, last_final = settled_epochs(db)
    assert last_settled == HALT_EPOCH - 2
    assert last_final >= LATE, f"epoch {LATE} settled late stayed provisional ({last_final=})"
