"""A node that prunes states behind finality within two epochs (stock Lodestar keeps only what is
after its finalized checkpoint, and a healthy small chain finalizes every epoch): window ``k``'s
start state ``LAST(k − 1)`` is gone by the time epoch ``k + 1`` closes. The daemon reads each
window as soon as its epoch closes and writes it one epoch later, so the ledger still settles
every epoch, in order.

The simulator with ``history_epochs=2`` keeps states of the last 16 slots only (plus checkpoint
states): like that node, it cannot serve ``LAST(k − 1)`` once the head is in epoch ``k + 2``.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.facts import LedgerReport
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.store import ledger_read
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from stakepool.store.database import Database
from tests.integration.listening import listen
from tests.integration.monitor.test_service import Recorder

POOL = range(8)


class LedgerRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[int] = []

    def ledger(self, report: LedgerReport) -> None:
        self.written.extend(r.epoch for r in report.epochs)


async def test_every_window_is_settled_on_a_node_that_prunes_behind_finality(
    tmp_path: Path,
) -> None:
    chain = SimChain(
        SimConfig(validators=64, preset="minimal", slot_duration_ms=300, seed=5, history_epochs=2)
    )
    database = tmp_path / "ledger.sqlite"
    async with SimServer(chain, auto_advance=True) as sim:
        rec = LedgerRecorder()
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 5},
            pool={"validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
            ledger={"database": str(database)},
        )
        code = await asyncio.wait_for(
            run_daemon(settings, listeners=[listen(rec)], max_epochs=8, configure_logs=False), 120
        )
    assert code == 0
    assert rec.written, "the ledger settled nothing"
    first = rec.written[0]
    assert first <= 2, rec.written
    assert rec.written == list(range(first, first + len(rec.written))), rec.written
    assert len(rec.written) >= 5, rec.written
    db = Database.open(database)
    try:
        epochs = EpochRange(first, rec.written[-1])
        for v in POOL:
            rows = db.read_sync(
                functools.partial(ledger_read.validator_epochs, validator_index=v, epochs=epochs)
            )
            assert [r.epoch for r in rows] == rec.written, (v, rows)
            # The simulator's rewards endpoints explain each settlement to the Gwei.
            assert all(r.residual_gwei in (0, None) for r in rows), rows
    finally:
        db.close()
