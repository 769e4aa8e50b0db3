"""Fault injection, failover between two servers of one chain, wall-clock stepping, entry points."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.demo import demo_chain_server
from stakepool.sim.main import SimOptions, run_sim
from stakepool.sim.server import ROUTE_NAMES, SimServer
from tests.integration.sim.scenarios import busy_chain
from tests.openapi import validate_response

BALANCES = "/eth/v1/beacon/states/head/validator_balances"


async def test_status_faults(sim_server: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        for fault, status in (
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("not_implemented", 501),
            ("server_error", 500),
            ("unavailable", 503),
        ):
            sim_server.faults.set("getStateValidatorBalances", fault)
            async with http.get(sim_server.url + BALANCES) as resp:
                assert resp.status == status
                body = await resp.json()
                assert body["code"] == status
                assert body["message"]
        sim_server.faults.clear()
        async with http.get(sim_server.url + BALANCES, params={"id": "1"}) as resp:
            assert resp.status == 200
        async with http.get(sim_server.url + "/eth/v1/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["code"] == 404


async def test_body_faults_break_the_schema(sim_server: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        sim_server.faults.set("getStateValidatorBalances", "malformed_json")
        async with http.get(sim_server.url + BALANCES, params={"id": "1"}) as resp:
            with pytest.raises(ValueError):
                json.loads(await resp.read())
        sim_server.faults.set("getStateValidatorBalances", "bad_integer")
        async with http.get(sim_server.url + BALANCES, params={"id": "1"}) as resp:
            assert (await resp.json())["data"][0]["index"] == "12x"
        for fault in ("number_not_string", "missing_field"):
            sim_server.faults.set("getStateValidatorBalances", fault)
            async with http.get(sim_server.url + BALANCES, params={"id": "1"}) as resp:
                raw = await resp.read()
            with pytest.raises(Exception):  # noqa: B017 - any schema violation will do
                validate_response("GET", BALANCES, raw, query={"id": "1"})
    with pytest.raises(ValueError, match="unknown fault"):
        sim_server.faults.set("getGenesis", "gremlins")
    assert "getEvents" in ROUTE_NAMES


async def test_sse_unavailable_silent_and_dropped(sim_server: SimServer) -> None:
    url = sim_server.url + "/eth/v1/events"
    async with aiohttp.ClientSession() as http:
        sim_server.faults.sse_unavailable = True
        async with http.get(url, params={"topics": "head"}) as resp:
            assert resp.status == 503
        sim_server.faults.sse_unavailable = False
        sim_server.faults.sse_silent = True
        async with http.get(url, params={"topics": "head"}) as resp:
            await sim_server.advance(2)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(resp.content.readline(), 0.5)
        sim_server.faults.sse_silent = False
        async with http.get(url, params={"topics": "head"}) as resp:
            assert await asyncio.wait_for(resp.content.readline(), 2) == b":\n"  # keep-alive
            await sim_server.drop_streams()
            rest = await asyncio.wait_for(resp.content.read(), 2)
            assert b"event:" not in rest  # the stream ended


async def test_two_servers_share_a_chain_and_fail_over() -> None:
    chain = busy_chain()
    a, b = SimServer(chain, keepalive_seconds=0.2), SimServer(chain, keepalive_seconds=0.2)
    await a.start()
    await b.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(b.url + "/eth/v1/events", params={"topics": "block"}) as stream:
                await a.stop()
                chain.advance_slot()
                line = b""
                while not line.startswith(b"event:"):
                    line = await asyncio.wait_for(stream.content.readline(), 2)
                assert line == b"event: block\n"
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(a.url + "/eth/v1/node/syncing"):
                    pass
            async with http.get(b.url + "/eth/v1/node/syncing") as resp:
                assert (await resp.json())["data"]["head_slot"] == "1"
            port = a.port
            await a.start()
            assert a.port == port
            async with http.get(a.url + "/eth/v1/node/syncing") as resp:
                assert (await resp.json())["data"]["head_slot"] == "1"
    finally:
        await a.stop()
        await b.stop()


async def test_wall_clock_ticker_follows_genesis() -> None:
    genesis = int(time.time())
    chain = SimChain(SimConfig(validators=64, slot_duration_ms=50, genesis_time=genesis))
    async with SimServer(chain, auto_advance=True):
        await asyncio.sleep(0.4)
        expected = (time.time_ns() // 1_000_000 - genesis * 1000) // 50
        assert abs(chain.head_slot - expected) <= 2
    assert chain.spec["SLOT_DURATION_MS"] == "50"
    assert "SECONDS_PER_SLOT" not in chain.spec


async def test_demo_and_cli_entry_points() -> None:
    async with demo_chain_server(validators=128, slot_seconds=0.05, seed=3) as demo:
        assert demo.pool == list(range(16))
        assert demo.url in demo.describe()
        async with (
            aiohttp.ClientSession() as http,
            http.get(demo.url + "/eth/v1/node/version") as resp,
        ):
            assert resp.status == 200
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_sim(SimOptions(port=0, validators=64, slot_seconds=0.1, offline=((0, 3),)), ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
