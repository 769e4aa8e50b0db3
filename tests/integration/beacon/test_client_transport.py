"""One node: retries, typed errors, timeouts, bodies, headers, size cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from stakepool.beacon.errors import BadRequest, MalformedResponse, NodeUnavailable, NotReady
from stakepool.beacon.models import Readiness
from tests.integration.beacon.common import (
    BALANCES,
    GENESIS,
    GENESIS_PATH,
    VALIDATORS,
    MakeClient,
    Nodes,
)
from tests.integration.beacon.fakenode import Reply, error
from tests.unit.beacon.fixtures import load


async def test_retries_5xx_then_succeeds(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", GENESIS_PATH, error(500, "boom"), Reply(502, None), Reply(200, GENESIS))
    client = make_client(node.url)
    genesis = await client.node.genesis()
    assert genesis.genesis_time == 1606824023
    assert len(node.calls("GET", GENESIS_PATH)) == 3
    health = client.health()[0]
    stats = health.routes["GET /eth/v1/beacon/genesis"]
    assert (stats.count, stats.errors) == (3, 2)
    assert health.up
    assert health.last_success is not None


async def test_429_honours_retry_after(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on(
        "GET", GENESIS_PATH, error(429, "slow down", **{"Retry-After": "0"}), Reply(200, GENESIS)
    )
    client = make_client(node.url)
    await client.node.genesis()
    assert len(node.calls("GET", GENESIS_PATH)) == 2


async def test_4xx_is_never_retried(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("POST", "/eth/v1/validator/duties/attester/5", error(400, "Invalid epoch: 5"))
    client = make_client(node.url)
    with pytest.raises(BadRequest, match="Invalid epoch") as caught:
        await client.duties.attester(5, [1, 2])
    assert caught.value.endpoint == "attester_duties"
    assert len(node.seen) == 1


async def test_503_is_not_ready(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", "/eth/v1/validator/duties/proposer/5", error(503, "Node is syncing"))
    client = make_client(node.url)
    with pytest.raises(NotReady):
        await client.duties.proposer(5)
    assert len(node.seen) == 1


async def test_timeout_is_a_failure(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", GENESIS_PATH, Reply(200, GENESIS, delay=1.0))
    client = make_client(node.url, retries=1, timeout=0.2)
    with pytest.raises(NodeUnavailable, match="timeout"):
        await client.node.genesis()
    assert len(node.calls("GET", GENESIS_PATH)) == 2
    assert not client.health()[0].up


async def test_per_call_timeout_on_a_typed_method(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", "/eth/v1/beacon/headers/7", Reply(200, load("header").body, delay=1.0))
    client = make_client(node.url, retries=0)
    with pytest.raises(NodeUnavailable):
        await client.blocks.header(7, request_timeout=0.2)


async def test_malformed_response_is_a_clear_error(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    body: dict[str, Any] = load("state_validator_balances").body
    bad = {**body, "data": [{"index": "12", "balance": "abc"}]}
    node.ok("POST", BALANCES, bad)
    client = make_client(node.url)
    with pytest.raises(MalformedResponse) as caught:
        await client.state.balances("head", [12])
    assert caught.value.endpoint == "validator_balances"
    assert caught.value.field == "data[0].balance"
    assert caught.value.node == node.url
    # Still alive and usable afterwards.
    node.ok("POST", BALANCES, body)
    assert len((await client.state.balances("head", [12, 13, 15])).data) == 3


async def test_malformed_on_one_node_fails_over(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    a.on("GET", GENESIS_PATH, Reply(200, raw=b"<html>oops</html>"))
    b.ok("GET", GENESIS_PATH, GENESIS)
    client = make_client(a.url, b.url)
    assert (await client.node.genesis()).genesis_time == 1606824023
    assert client.health()[0].score < 100


async def test_post_bodies_batches_and_headers(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    pubkey = "0x" + "AB" * 48
    node.ok("POST", VALIDATORS, {"execution_optimistic": False, "finalized": True, "data": []})
    client = make_client(node.url, batch_size=2)
    env = await client.state.validators("head", [3, pubkey, 3, "4"])
    assert env.finalized is True
    bodies = [c.body for c in node.calls("POST", VALIDATORS)]
    assert bodies == [{"ids": ["3", pubkey.lower()]}, {"ids": ["4"]}]
    seen = node.seen[0]
    assert seen.headers["Accept"] == "application/json"
    assert "gzip" in seen.headers["Accept-Encoding"]
    assert seen.headers["Content-Type"] == "application/json"


async def test_health_endpoint_status_codes(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", "/eth/v1/node/health", Reply(200), Reply(206), Reply(503))
    client = make_client(node.url)
    assert await client.node.health() is Readiness.READY
    assert await client.node.health() is Readiness.SYNCING
    assert await client.node.health(node=node.url) is Readiness.NOT_READY


async def test_gzip_responses_are_accepted(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()

    async def gzipped(request: web.Request) -> web.StreamResponse:
        assert "gzip" in request.headers["Accept-Encoding"]
        resp = web.json_response(GENESIS)
        resp.enable_compression(web.ContentCoding.gzip)
        return resp

    node.on("GET", GENESIS_PATH, gzipped)
    client = make_client(node.url)
    assert (await client.node.genesis()).genesis_fork_version == "0x00000000"


async def test_an_oversized_body_is_not_read(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.ok("GET", GENESIS_PATH, GENESIS)
    client = make_client(node.url, max_response_bytes=64)
    with pytest.raises(MalformedResponse, match="size cap"):
        await client.node.genesis()


async def test_an_oversized_chunked_body_is_cut_off(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b" " * 1024)
        await resp.write(json.dumps(GENESIS).encode())
        return resp

    node.on("GET", GENESIS_PATH, chunked)
    client = make_client(node.url, max_response_bytes=10_000)
    with pytest.raises(MalformedResponse, match="size cap"):
        await client.node.genesis()
    roomy = make_client(node.url)
    assert (await roomy.node.genesis()).genesis_time == 1606824023
