"""``GET /api/v1/duties/next`` served over loopback from a simulated node, checked against the
OpenAPI document and against the simulator's own schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings, parse_validator_ref
from stakepool.publish.api.duties import add_duties_route
from stakepool.publish.http import HttpServer, build_app
from stakepool.service.duties import daemon_source
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.api.conftest import ApiClient
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import SPE, stepped_chain, wait_until

SLOT = 21  # epoch 2, slot 5 of 8: proposers known for slots 21..31
ServeDuties = Callable[[Sequence[int] | None], Awaitable[ApiClient]]


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.check_genesis(None)
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


@pytest.fixture
async def chain_and_client(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> tuple[SimChain, BeaconClient]:
    chain = stepped_chain(SLOT, validators=64)
    server = await serve_sim(chain)
    return chain, sim_client(server.url)


@pytest.fixture
async def serve_duties(
    chain_and_client: tuple[SimChain, BeaconClient],
) -> AsyncIterator[ServeDuties]:
    _chain, client = chain_and_client
    spec = await _spec(client)
    servers: list[HttpServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def serve(pool: Sequence[int] | None) -> ApiClient:
        app = build_app(CollectorRegistry(), lambda: None)
        add_duties_route(
            app,
            daemon_source(
                client,
                lambda: spec,
                lambda: pool,
                now_ms=lambda: spec.clock().slot_start_ms(SLOT) + 1,
            ),
        )
        server = HttpServer(app, "127.0.0.1", 0)
        await server.start()
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return ApiClient(session, server.url)

    yield serve
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()


async def test_the_forecast_is_the_simulators_schedule(
    chain_and_client: tuple[SimChain, BeaconClient], serve_duties: ServeDuties
) -> None:
    chain, _ = chain_and_client
    schedule = {
        epoch * SPE + i: int(v)
        for epoch in (2, 3)
        for i, v in enumerate(chain.proposers(epoch).tolist())  # type: ignore[union-attr]
    }
    seats = set(chain.sync_committee(2).tolist())  # type: ignore[union-attr]
    # Two proposers still to come (one late in epoch 3), none in the sync committee if possible.
    later = [s for s in sorted(schedule) if s >= SLOT]
    pool = sorted({schedule[later[2]], schedule[later[-1]]})
    api: ApiClient = await serve_duties(pool)
    answer = await api.get("/api/v1/duties/next", query={"within": "4"})
    assert answer.status == 200
    data = answer.data
    assert data["current_slot"] == SLOT
    assert data["current_epoch"] == 2
    assert data["known_until_slot"] == 4 * SPE - 1
    expected = [
        {"slot": s, "epoch": s // SPE, "validator_index": v}
        for s, v in sorted(schedule.items())
        if s >= SLOT and v in pool
    ]
    assert data["proposals"] == expected
    in_committee = sorted(set(pool) & seats)
    assert [s["validator_indices"] for s in data["sync_committees"]][:1] == (
        [in_committee] if in_committee else []
    )
    busy = [p["slot"] for p in expected]
    if not in_committee:
        assert data["next_busy_slot"] == busy[0]
        assert data["window"]["free"] is (busy[0] > SLOT + 3)
        assert data["longest_gap"]["slots"] >= 1
    assert sum(a["validators"] for a in data["attestations"]) >= len(pool)


async def test_bad_window_and_not_ready(serve_duties: ServeDuties) -> None:
    api: ApiClient = await serve_duties([1])
    for bad in ("0", "-1", "abc", "1e3"):
        answer = await api.get("/api/v1/duties/next", query={"within": bad})
        assert answer.status == 400, bad
        assert "within" in answer.json["message"]
    no_window = await api.get("/api/v1/duties/next")
    assert no_window.status == 200
    assert no_window.data["window"] is None

    starting: ApiClient = await serve_duties(None)
    answer = await starting.get("/api/v1/duties/next")
    assert answer.status == 503
    assert "not ready" in answer.json["message"]


async def test_the_daemon_serves_the_forecast_of_its_resolved_pool(tmp_path: Path) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=200, seed=3))
    server = SimServer(chain, auto_advance=True)
    await server.start()
    settings = Settings(
        beacon={"urls": [server.url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in ("0", "1", "2", "3")]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
    )
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        await wait_until(lambda: bool(bound) or task.done(), "the daemon's HTTP server", 10)
        async with aiohttp.ClientSession() as session:
            api = ApiClient(session, bound[0])
            for _ in range(300):  # until the daemon has resolved its pool (bounded)
                answer = await api.get("/api/v1/duties/next", query={"within": "2"})
                if answer.status == 200:
                    break
                assert answer.status == 503
                await asyncio.sleep(0.05)
            assert answer.status == 200
            data = answer.data
            assert data["current_epoch"] == data["current_slot"] // SPE
            # Every pool validator attests once per epoch: the current and the next epoch's
            # duties are both there (minus those whose slot already passed).
            assert sum(a["validators"] for a in data["attestations"]) >= 4
            proposers = {
                s: int(v)
                for e in (data["current_epoch"], data["current_epoch"] + 1)
                for s, v in enumerate(chain.proposers(e).tolist(), start=e * SPE)  # type: ignore[union-attr]
            }
            assert data["proposals"] == [
                {"slot": s, "epoch": s // SPE, "validator_index": v}
                for s, v in sorted(proposers.items())
                if v in (0, 1, 2, 3) and s >= data["current_slot"]
            ]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=15) == 0
        await server.stop()
