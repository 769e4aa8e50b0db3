"""The doppelganger check in the daemon: keys marked "not yet started" checked every epoch, all
pool keys at start-up while the local validator client waits, and on demand over HTTP.

In the simulator a key our client does not run is ``offline``; ``doppelgangers`` makes it sign
anyway from some epoch on, as a second instance of the key would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.eventbase import Severity
from stakepool.monitor.events import DoppelgangerDetected
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain
from stakepool.sim.scenario import Offline, SimScenario
from stakepool.sim.server import SimServer
from tests.integration.listening import listen
from tests.integration.monitor.test_service import Recorder, _scrape, _value
from tests.integration.simkit import live_chain

POOL = range(16)
NOT_STARTED = 5
LIVE_FROM = 3
TOKEN = "s3cret-token"


def _chain(scenario: SimScenario) -> SimChain:
    # Genesis a moment away: the daemon is up before it.
    return live_chain(100, validators=64, seed=7, scenario=scenario, genesis_in=2)


def _settings(url: str, **monitor: Any) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0, "token": TOKEN},
        monitor=monitor,
    )


async def _until(rec: Recorder, daemon: asyncio.Task[int], epoch: int) -> None:
    deadline = time.monotonic() + 30
    while not any(d.epoch >= epoch for d in rec.digests):
        assert time.monotonic() < deadline, [d.epoch for d in rec.digests]
        assert not daemon.done(), daemon
        await asyncio.sleep(0.02)


async def test_a_not_started_key_seen_live_is_one_critical_doppelganger() -> None:
    # Our client never runs validator 5; another instance starts signing with it in epoch 3.
    chain = _chain(
        SimScenario(
            offline=(Offline((NOT_STARTED, NOT_STARTED)),),
            doppelgangers=(Offline((NOT_STARTED, NOT_STARTED), epochs=(LIVE_FROM, 10_000)),),
        )
    )
    rec, urls, stop = Recorder(), list[str](), asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = _settings(sim.url, not_started=[NOT_STARTED])
        daemon = asyncio.create_task(
            run_daemon(
                settings,
                stop=stop,
                listeners=[listen(rec)],
                configure_logs=False,
                on_listening=urls.append,
            )
        )
        await _until(rec, daemon, LIVE_FROM - 1)
        quiet = [e for e in rec.events if isinstance(e, DoppelgangerDetected)]
        metrics_before = await _scrape(urls[0])
        await _until(rec, daemon, LIVE_FROM + 2)
        metrics = await _scrape(urls[0])
        async with aiohttp.ClientSession() as http:
            check = f"{urls[0]}/api/v1/doppelganger/check"
            async with http.post(check, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200
                on_demand = await resp.json()
            async with http.post(check, headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 401
            async with http.post(check) as resp:
                assert resp.status == 401
        stop.set()
        assert await asyncio.wait_for(daemon, 10) == 0

    assert quiet == [], "silent while the key is silent"
    assert _value(metrics_before, "stakepool_doppelganger_detected") == 0
    found = [e for e in rec.events if isinstance(e, DoppelgangerDetected)]
    assert [(e.validator_index, e.epoch) for e in found] == [(NOT_STARTED, LIVE_FROM)]
    assert found[0].severity is Severity.CRITICAL
    assert _value(metrics, "stakepool_doppelganger_detected") == 1
    assert (
        _value(metrics, "stakepool_doppelganger_detections_total", validator=str(NOT_STARTED)) == 1
    )
    # Asked again on demand: still detected, and no second alert.
    assert on_demand["status"] == "doppelganger"
    assert on_demand["detected"] == [NOT_STARTED]
    assert [c["validators"] for c in on_demand["checked"]] == [0, 0]  # already detected
    assert len([e for e in rec.events if isinstance(e, DoppelgangerDetected)]) == 1


async def test_while_the_vc_waits_every_live_pool_key_is_a_doppelganger_at_start_up() -> None:
    # Our client runs none of the pool's keys yet (all offline), but key 2 signs elsewhere.
    chain = _chain(
        SimScenario(
            offline=(Offline((0, 15)),),
            doppelgangers=(Offline((2, 2)),),
        )
    )
    rec = Recorder()
    async with SimServer(chain, auto_advance=True) as sim:
        deadline = time.monotonic() + 10
        while sim.chain.head_slot < 12:  # epoch 1: epoch 0 is over, the daemon checks it first
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        code = await asyncio.wait_for(
            run_daemon(
                _settings(sim.url, vc_doppelganger_wait=True),
                listeners=[listen(rec)],
                max_epochs=1,
                configure_logs=False,
            ),
            20,
        )
    assert code == 0
    found = [e for e in rec.events if isinstance(e, DoppelgangerDetected)]
    assert [e.validator_index for e in found] == [2]
    # Found by the start-up check (the head's previous epoch): not later than the first epoch the
    # daemon closed, whatever the moment it started.
    assert found[0].epoch <= rec.digests[0].epoch


async def test_the_check_endpoint_is_off_without_a_token() -> None:
    chain = _chain(SimScenario())
    urls: list[str] = []
    stop = asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = _settings(sim.url).model_copy(update={"http": Settings(http={"port": 0}).http})
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, configure_logs=False, on_listening=urls.append)
        )
        deadline = time.monotonic() + 10
        while not urls:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        async with aiohttp.ClientSession() as http:
            url = f"{urls[0]}/api/v1/doppelganger/check"
            async with http.post(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 403
                body = await resp.json()
        stop.set()
        assert await asyncio.wait_for(daemon, 10) == 0
    assert "no [http] token" in body["error"]
