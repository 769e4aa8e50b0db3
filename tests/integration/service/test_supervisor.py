"""The daemon against the simulator: it follows the head, reports each closed epoch with the
pool's exact balances, survives bad answers, waits for a late node, and stops on request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog

from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.facts import EpochReport
from stakepool.monitor.head import HeadView
from stakepool.monitor.pool import PoolMember
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import Offline, SimScenario
from stakepool.sim.server import SimServer
from tests.integration.listening import listen

SLOT_MS = 100
POOL = [0, 1, 2, 3, 5, 8, 13, 21]


class Recorder:
    def __init__(self) -> None:
        self.members: tuple[PoolMember, ...] = ()
        self.heads: list[HeadView] = []
        self.reports: list[EpochReport] = []
        self.changed = asyncio.Event()

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        self.members = members

    def head(self, view: HeadView) -> None:
        self.heads.append(view)

    def epoch(self, report: EpochReport) -> None:
        self.reports.append(report)
        self.changed.set()

    def monitor_event(self, event: object) -> None:
        pass

    def duties(self, report: object) -> None:
        pass


def _settings(url: str, **pool: Any) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in POOL], **pool},
        http={"port": 0},  # an ephemeral port: never collide with anything on 9464
    )


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    chain = SimChain(
        SimConfig(
            validators=128,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=3,
            scenario=SimScenario(offline=(Offline((1, 1)),)),
        )
    )
    async with SimServer(chain, auto_advance=True) as server:
        yield server


async def _wait_for(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_reports_each_closed_epoch_with_exact_pool_balances(sim: SimServer) -> None:
    rec = Recorder()
    code = await asyncio.wait_for(
        run_daemon(_settings(sim.url), listeners=[listen(rec)], max_epochs=3, configure_logs=False),
        timeout=30,
    )
    assert code == 0
    assert [m.index for m in rec.members] == POOL
    epochs = [r.epoch for r in rec.reports]
    assert len(epochs) == 3
    assert epochs == list(range(epochs[0], epochs[0] + 3))  # in order, none skipped or repeated
    chain = sim.chain
    spe = chain.params.slots_per_epoch
    for report in rec.reports:
        assert report.state_slot == (report.epoch + 1) * spe - 1
        state = chain.state(str(report.state_slot))
        assert state is not None
        assert dict(report.balances) == {i: int(state.balance[i]) for i in POOL}
    # Consecutive epochs: the change is the exact sum of per-validator differences.
    second = rec.reports[1]
    assert second.previous == rec.reports[0].balances
    assert second.change == sum(second.balances[i] - rec.reports[0].balances[i] for i in POOL)
    # Validator 1 is offline: it never gains (penalties only once duties are processed).
    assert all(r.balances[1] <= 32_000_000_000 for r in rec.reports)
    heads = [h.slot for h in rec.heads]
    assert heads == sorted(heads)


class SpoilingRecorder(Recorder):
    """The report reads the pool's records at the epoch's end (its balances among them); the
    same route resolves the pool at start, so its answers turn bad once the daemon has started
    (told before it follows the chain: no epoch closes in between)."""

    def __init__(self, sim: SimServer) -> None:
        super().__init__()
        self.sim = sim

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        super().started(spec, members, nodes)
        self.sim.faults.set("/eth/v1/beacon/states/{state_id}/validators", "bad_integer")


async def test_malformed_answer_is_logged_once_and_the_daemon_carries_on(sim: SimServer) -> None:
    rec = SpoilingRecorder(sim)
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(
            run_daemon(_settings(sim.url), listeners=[listen(rec)], stop=stop, configure_logs=False)
        )
        await _wait_for(lambda: any(e["event"] == "epoch_report_failed" for e in logs), within=15)
        assert not task.done()  # a bad answer never stops the daemon
        failed = next(e for e in logs if e["event"] == "epoch_report_failed")
        assert failed["error"].startswith("validators at ")  # the request that broke is named
        assert "data[0]" in failed["error"]  # the field that broke is named
        assert rec.reports == []
        sim.faults.clear()
        await _wait_for(lambda: len(rec.reports) >= 1, within=15)
        stop.set()
        assert await asyncio.wait_for(task, timeout=5) == 0
    assert rec.reports[0].balances.keys() == set(POOL)


async def test_waits_for_a_beacon_node_that_starts_late() -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS))
    server = SimServer(chain, auto_advance=True)
    await server.start()
    url = server.url
    await server.stop()  # the port is known, nobody listens yet
    rec = Recorder()
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(
            run_daemon(_settings(url), listeners=[listen(rec)], stop=stop, configure_logs=False)
        )
        await _wait_for(lambda: any(e["event"] == "waiting_for_beacon_node" for e in logs), 10)
        await server.start()
        try:
            await _wait_for(lambda: len(rec.reports) >= 1, within=20)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)
            await server.stop()
    assert sum(e["event"] == "waiting_for_beacon_node" for e in logs) == 1  # said once, not spammed


async def test_wrong_chain_is_refused_with_exit_1(sim: SimServer) -> None:
    settings = Settings(
        beacon={"urls": [sim.url], "genesis_root": "0x" + "ee" * 32},
        pool={"validators": [parse_validator_ref(0)]},
        http={"port": 0},
    )
    with structlog.testing.capture_logs() as logs:
        code = await asyncio.wait_for(run_daemon(settings, configure_logs=False), timeout=10)
    assert code == 1
    wrong = [e for e in logs if e["event"] == "wrong_chain"]
    assert wrong
    assert "0x" + "ee" * 32 in wrong[0]["error"]


async def test_stop_request_ends_the_daemon_within_seconds(sim: SimServer) -> None:
    rec = Recorder()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(_settings(sim.url), listeners=[listen(rec)], stop=stop, configure_logs=False)
    )
    await _wait_for(lambda: len(rec.heads) >= 2, within=10)
    started = time.monotonic()
    stop.set()
    assert await asyncio.wait_for(task, timeout=5) == 0
    assert time.monotonic() - started < 3
