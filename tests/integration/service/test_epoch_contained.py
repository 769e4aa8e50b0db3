"""A failed epoch report costs the epoch nothing else: the monitor still judges its proposals and
the ledger still settles it with the verdicts (item 2 of issue 12).

A corrupting middleware in front of the simulator answers the epoch report's records request for
the missed proposal's epoch with a malformed body — once (absorbed by the retry within the epoch),
or every time (the report is given up for that epoch, the other steps still run)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import structlog
from aiohttp import web

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.events import BlockMissed
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.listening import listen
from tests.integration.money.moneykit import MISSED_SLOT, SCENARIO, SPE, VALIDATORS, detail_rows
from tests.integration.simkit import Handler, InterceptingSimServer

MISSED_EPOCH = MISSED_SLOT // SPE
REPORT_SLOT = (MISSED_EPOCH + 1) * SPE - 1
"""The epoch report reads the pool's records at ``LAST(epoch)``, by the state root of the block
at that slot (which the ledger's windows then take instead of reading it again)."""
POOL = list(range(VALIDATORS))
"""Every validator: the missed slot's proposer is in the pool whatever the shuffling."""
MALFORMED = b'{"execution_optimistic":false,"finalized":false,"data":[{"index":"0","balance":"12x"'


class CorruptingSim(InterceptingSimServer):
    """Answers the report's read of the records at ``REPORT_SLOT`` with a truncated body,
    ``times`` times; with ``headers``, the monitor's ``headers?slot=`` of the epoch's first slot
    instead. The report's read is the one made while the epoch after ``MISSED_EPOCH`` runs: the
    next window reads the same state as its start only once that epoch has closed."""

    def __init__(self, chain: SimChain, times: int, *, headers: bool = False) -> None:
        super().__init__(chain, auto_advance=True)
        self.left = times
        self.headers = headers
        self.corrupted = 0

    async def _target(self, request: web.Request) -> bool:
        if self.headers:
            return request.path == "/eth/v1/beacon/headers" and request.query.get("slot") == str(
                MISSED_EPOCH * SPE
            )
        block = self.chain.block(str(REPORT_SLOT))
        head = self.chain.state("head")
        if (
            block is None
            or head is None
            or head.slot >= (MISSED_EPOCH + 2) * SPE
            or request.method != "POST"
            or not request.path.endswith("/validators")
            or request.match_info.get("state_id") != block.state_root
        ):
            return False
        # The whole pool: not the explanation's read of the window's slashed validators there.
        return len(json.loads(await request.read())["ids"]) == len(POOL)

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.left > 0 and await self._target(request):
            self.left -= 1
            self.corrupted += 1
            return web.Response(body=MALFORMED, content_type="application/json")
        return await handler(request)


class Events:
    def __init__(self) -> None:
        self.missed: list[BlockMissed] = []

    def monitor_event(self, event: object) -> None:
        if isinstance(event, BlockMissed):
            self.missed.append(event)


def _settled(db: Path) -> int:
    if not db.exists():
        return -1
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT MAX(epoch) FROM ledger_epochs").fetchone()
    except sqlite3.OperationalError:
        return -1
    finally:
        conn.close()
    return -1 if row is None or row[0] is None else int(row[0])


async def _run(
    tmp_path: Path, times: int, *, headers: bool = False
) -> tuple[CorruptingSim, Events, list[dict[str, object]]]:
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,  # up before genesis: epoch 2 is closed live
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    db = tmp_path / "ledger.sqlite"
    settings = Settings(
        beacon={"urls": ["http://127.0.0.1:1"], "timeout_seconds": 5, "retries": 0},
        pool={"id": "p", "validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0},
        ledger={"database": str(db)},
    )
    events = Events()
    stop = asyncio.Event()
    async with CorruptingSim(chain, times, headers=headers) as sim:
        settings = settings.model_copy(
            update={"beacon": settings.beacon.model_copy(update={"urls": [sim.url]})}
        )
        with structlog.testing.capture_logs() as logs:
            daemon = asyncio.create_task(
                run_daemon(settings, stop=stop, listeners=[listen(events)], configure_logs=False)
            )
            try:
                deadline = time.monotonic() + 90
                while _settled(db) < MISSED_EPOCH + 1:
                    assert not daemon.done(), "the daemon stopped"
                    assert time.monotonic() < deadline, "the ledger did not settle epoch 3"
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, 20) == 0
    return sim, events, logs


def _missed_rows(db: Path) -> list[tuple[int, int, int]]:
    # (epoch, index, reward, components, residual, attestation, proposals, missed, status)
    return [
        (int(r[0]), int(r[1]), int(r[7]))
        for r in detail_rows(db)
        if r[0] == MISSED_EPOCH and int(r[7]) > 0
    ]


def _proposer(sim: CorruptingSim) -> int:
    proposers = sim.chain.proposers(MISSED_EPOCH)
    assert proposers is not None
    duty = int(proposers[MISSED_SLOT % SPE])
    assert duty in POOL, "the scenario's missed slot belongs to a pool validator"
    return duty


async def test_one_malformed_report_answer_loses_no_missed_proposal(tmp_path: Path) -> None:
    sim, events, logs = await _run(tmp_path, times=1)
    assert sim.corrupted == 1
    proposer = _proposer(sim)
    assert [
        (e.epoch, e.slot, e.validator_index) for e in events.missed if e.epoch == MISSED_EPOCH
    ] == [(MISSED_EPOCH, MISSED_SLOT, proposer)]
    assert _missed_rows(tmp_path / "ledger.sqlite") == [(MISSED_EPOCH, proposer, 1)]
    retries = [e for e in logs if e["event"] == "epoch_step_retry"]
    assert [(e["step"], e["epoch"]) for e in retries] == [("epoch_report", MISSED_EPOCH)]
    assert not [e for e in logs if e["event"] == "epoch_report_failed"]


async def test_an_epoch_report_that_keeps_failing_skips_neither_monitor_nor_ledger(
    tmp_path: Path,
) -> None:
    sim, events, logs = await _run(tmp_path, times=1_000)
    assert sim.corrupted == 3  # every attempt of that epoch's report, and no more
    failed = [e for e in logs if e["event"] == "epoch_report_failed"]
    assert [(e["epoch"], e["attempts"]) for e in failed] == [(MISSED_EPOCH, 3)]
    proposer = _proposer(sim)
    missed = [(e.epoch, e.validator_index) for e in events.missed if e.epoch == MISSED_EPOCH]
    assert missed == [(MISSED_EPOCH, proposer)]
    assert _missed_rows(tmp_path / "ledger.sqlite") == [(MISSED_EPOCH, proposer, 1)]


async def test_a_monitor_part_that_fails_once_is_retried_within_the_epoch(tmp_path: Path) -> None:
    sim, events, logs = await _run(tmp_path, times=1, headers=True)
    assert sim.corrupted == 1  # the proposals part's first read of that epoch failed once
    proposer = _proposer(sim)
    missed = [(e.epoch, e.validator_index) for e in events.missed if e.epoch == MISSED_EPOCH]
    assert missed == [(MISSED_EPOCH, proposer)]
    assert _missed_rows(tmp_path / "ledger.sqlite") == [(MISSED_EPOCH, proposer, 1)]
    retried = [e for e in logs if e["event"] == "monitor_part_retry"]
    assert [(e["part"], e["epoch"]) for e in retried] == [("proposals", MISSED_EPOCH)]
    assert not [e for e in logs if e["event"] == "monitor_part_failed"]
