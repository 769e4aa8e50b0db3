"""Two beacon nodes on different chains and no ``[beacon] genesis_root``: the daemon trusts
neither (before the fix the first answer became the reference and the honest node was excluded
for good). It says why on ``/readyz`` and in the log, and proceeds once the root is configured."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.simkit import Handler, InterceptingSimServer, wait_until

LIE = "0x" + "77" * 32


class LyingGenesis(InterceptingSimServer):
    """The simulator, except that its genesis names another chain."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path != "/eth/v1/beacon/genesis":
            return response
        assert isinstance(response, web.Response)
        assert response.body is not None
        body = json.loads(bytes(response.body))  # type: ignore[arg-type]
        body["data"]["genesis_validators_root"] = LIE
        return web.json_response(body)


def _chain() -> SimChain:
    return SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=200, seed=2))


def _settings(urls: list[str], root: str | None = None) -> Settings:
    return Settings(
        beacon={"urls": urls, "timeout_seconds": 2, "retries": 1, "genesis_root": root},
        pool={"validators": [parse_validator_ref(0)]},
        http={"port": 0},
    )


async def _readyz(base: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(base + "/readyz") as resp:
        return resp.status, await resp.json()


async def test_a_lying_first_node_does_not_get_the_honest_one_excluded() -> None:
    async with (
        LyingGenesis(_chain(), auto_advance=True) as liar,
        SimServer(_chain(), auto_advance=True) as honest,
    ):
        urls: list[str] = []
        stop = asyncio.Event()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(
                run_daemon(
                    _settings([liar.url, honest.url]),
                    stop=stop,
                    configure_logs=False,
                    on_listening=urls.append,
                )
            )
            try:
                await wait_until(lambda: bool(urls), "HTTP bound", 10)
                await wait_until(
                    lambda: any(e["event"] == "beacon_nodes_disagree_on_the_chain" for e in logs),
                    "the conflict logged",
                    10,
                )
                status, body = await _readyz(urls[0])
                assert not task.done()  # not fatal: it waits for the operator
            finally:
                stop.set()
                code = await asyncio.wait_for(task, timeout=10)
    assert code == 0
    assert status == 503
    assert "genesis_root" in body["reason"]
    assert liar.url in body["reason"]
    assert honest.url in body["reason"]
    refused = [e for e in logs if e["event"] == "beacon_node_wrong_chain"]
    assert refused == []  # neither node excluded on one node's word


async def test_with_the_root_configured_the_liar_is_excluded_and_the_daemon_runs() -> None:
    chain = _chain()
    async with (
        LyingGenesis(_chain(), auto_advance=True) as liar,
        SimServer(chain, auto_advance=True) as honest,
    ):
        root = chain.genesis_validators_root
        urls: list[str] = []
        stop = asyncio.Event()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(
                run_daemon(
                    _settings([liar.url, honest.url], root),
                    stop=stop,
                    configure_logs=False,
                    on_listening=urls.append,
                )
            )
            try:
                await wait_until(lambda: bool(urls), "HTTP bound", 10)
                for _ in range(200):  # bounded: ~10 s
                    status, _body = await _readyz(urls[0])
                    if status == 200:
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=10)
    assert status == 200
    refused = [e for e in logs if e["event"] == "beacon_node_wrong_chain"]
    assert [e["node"] for e in refused] == [liar.url]
    assert "genesis_root" in refused[0]["reference"]
