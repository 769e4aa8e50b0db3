"""The pool's records at an epoch's end are asked of the node once: the epoch report's read by the
state root of the epoch's last block serves the statuses, the monitor, and both rewards windows
that end or start there, and the ledger is still exact against the simulator's own books."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.facts import EpochReport
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.listening import listen
from tests.integration.money.moneykit import (
    POOL,
    SPE,
    VALIDATORS,
    detail_rows,
    settled,
    sim_truth,
)
from tests.integration.simkit import Handler, InterceptingSimServer

SETTLE_THROUGH = 6


class StateReads(InterceptingSimServer):
    """Counts the validators and balances requests for the whole pool, by state id."""

    def __init__(self, chain: SimChain) -> None:
        super().__init__(chain, auto_advance=True)
        self.validators: Counter[str] = Counter()
        self.balances: Counter[str] = Counter()

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        state_id = request.match_info.get("state_id", "")
        kind = request.path.rsplit("/", 1)[-1]
        if kind in ("validators", "validator_balances") and state_id:
            if request.method == "POST":
                body = json.loads(await request.read())
                ids = body["ids"] if isinstance(body, dict) else body
            else:
                ids = request.query.getall("id", [])
            if len(ids) == len(POOL):
                counter = self.validators if kind == "validators" else self.balances
                counter[state_id] += 1
        return await handler(request)


class Reports:
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def epoch(self, report: EpochReport) -> None:
        self.epochs.append(int(report.epoch))


async def test_each_epoch_end_is_read_once_for_report_monitor_and_both_windows(
    tmp_path: Path,
) -> None:
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,
            history_epochs=64,
        )
    )
    db = tmp_path / "ledger.sqlite"
    reports = Reports()
    stop = asyncio.Event()
    async with StateReads(chain) as sim:
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 5, "retries": 0},
            pool={"id": "p", "validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
            ledger={"database": str(db)},
        )
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, listeners=[listen(reports)], configure_logs=False)
        )
        try:
            deadline = time.monotonic() + 60
            while settled(db)[0] < SETTLE_THROUGH:  # bounded by the deadline
                assert not daemon.done(), "the daemon stopped"
                assert time.monotonic() < deadline, f"epoch {SETTLE_THROUGH} not settled"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, 20) == 0

    last = settled(db)[0]
    checked = 0
    for c in reports.epochs:
        if c + 1 > last:
            continue  # window c + 1 (which starts at LAST(c)) not settled yet
        block = chain.block(str((c + 1) * SPE - 1))
        if block is None:
            continue  # an empty last slot: the report read by slot, the windows by root
        root = block.state_root
        # One read for the report, the statuses, the monitor, window c's end, window c+1's start.
        assert sim.validators[root] == 1, (c, sim.validators[root])
        assert sim.balances[root] == 0, (c, sim.balances[root])
        checked += 1
    assert checked >= 3, (reports.epochs, last)
    # What was served from memory is what the node would have said: each settled epoch exact.
    rows = detail_rows(db)
    epochs = sorted({int(r[0]) for r in rows})
    assert epochs
    assert epochs[-1] >= SETTLE_THROUGH
    for v in POOL:
        for k in epochs:
            got = sum(int(r[2]) for r in rows if int(r[0]) == k and int(r[1]) == v)
            assert got == sim_truth(chain, k, v), (k, v)
