"""Several nodes: failover, sticky offline window, chain check, logged transitions."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.errors import GenesisConflict, NodeUnavailable, NotReady, WrongChain
from tests.integration.beacon.common import (
    GENESIS,
    GENESIS_PATH,
    OTHER_CHAIN,
    MakeClient,
    Nodes,
)
from tests.integration.beacon.fakenode import FakeNode, error


async def test_failover_on_5xx_and_score(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    a.on("GET", GENESIS_PATH, error(500, "state not in cache"))
    b.ok("GET", GENESIS_PATH, GENESIS)
    client = make_client(a.url, b.url)
    await client.node.genesis()
    assert len(a.calls("GET", GENESIS_PATH)) == 3  # 1 + 2 retries
    health_a, health_b = client.health()
    assert health_a.score == 95
    assert health_a.up  # it answered: not down, just useless this time
    assert health_b.score == 100


async def test_sticky_offline_then_recovery(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    b.ok("GET", GENESIS_PATH, GENESIS)
    a_url = a.url
    await a.stop()  # connection refused
    client = make_client(a_url, b.url)
    await client.node.genesis()
    snapshot = client.health()[0]
    assert not snapshot.up
    assert snapshot.offline_until is not None
    b_calls = len(b.seen)
    await client.node.genesis()  # A is inside its offline window: not asked, B answers at once
    assert len(b.seen) == b_calls + 1
    # A comes back on the same port; after the window it is tried and recovers.
    port = int(a_url.rsplit(":", 1)[1])
    revived = FakeNode().ok("GET", GENESIS_PATH, GENESIS)
    revived.server = TestServer(revived.app, host="127.0.0.1", port=port)
    await revived.server.start_server()
    try:
        await asyncio.sleep(0.35)
        await client.node.genesis()
        assert len(revived.seen) == 1
        assert client.health()[0].up
    finally:
        await revived.stop()


async def test_all_nodes_down(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    urls = (a.url, b.url)
    await a.stop()
    await b.stop()
    client = make_client(*urls)
    with pytest.raises(NodeUnavailable) as caught:
        await client.node.genesis()
    assert not isinstance(caught.value, NotReady)
    assert all(not h.up for h in client.health())
    with pytest.raises(NodeUnavailable):  # inside the windows: each asked once, no retries
        await client.node.genesis()


async def test_check_genesis_refuses_a_node_on_another_chain(
    nodes: Nodes, make_client: MakeClient
) -> None:
    a, b = await nodes(), await nodes()
    a.ok("GET", GENESIS_PATH, GENESIS)
    b.ok("GET", GENESIS_PATH, OTHER_CHAIN)
    b.ok("GET", "/eth/v1/node/version", {"data": {"version": "wrong"}})
    a.on("GET", "/eth/v1/node/version", error(500, "down"))
    client = make_client(a.url, b.url)
    genesis = await client.check_genesis(
        GENESIS["data"]["genesis_validators_root"].upper().replace("0X", "0x")
    )
    assert genesis.genesis_validators_root == GENESIS["data"]["genesis_validators_root"]
    assert client.health()[1].excluded is not None
    with pytest.raises(NodeUnavailable):  # B is never used, even when A fails
        await client.node.version()
    assert b.calls("GET", "/eth/v1/node/version") == []


async def test_check_genesis_strict_and_no_match(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    a.ok("GET", GENESIS_PATH, GENESIS)
    b.ok("GET", GENESIS_PATH, OTHER_CHAIN)
    client = make_client(a.url, b.url)
    with pytest.raises(WrongChain) as caught:
        await client.check_genesis(GENESIS["data"]["genesis_validators_root"], strict=True)
    assert caught.value.node == b.url
    other = make_client(b.url)
    with pytest.raises(WrongChain) as caught:
        await other.check_genesis(GENESIS["data"]["genesis_validators_root"])
    assert caught.value.node == b.url


async def test_unreachable_node_is_verified_before_first_use(
    nodes: Nodes, make_client: MakeClient
) -> None:
    a, b = await nodes(), await nodes()
    b.ok("GET", GENESIS_PATH, OTHER_CHAIN)
    b.ok("GET", "/eth/v1/node/version", {"data": {"version": "Teku/v1"}})
    a.ok("GET", GENESIS_PATH, GENESIS)
    a.on("GET", "/eth/v1/node/version", error(500, "boom"))
    client = make_client(a.url, b.url)
    b_genesis = b.routes.pop(("GET", GENESIS_PATH))
    await client.check_genesis(GENESIS["data"]["genesis_validators_root"])  # B: plain 404 now
    b.routes[("GET", GENESIS_PATH)] = b_genesis
    with pytest.raises(NodeUnavailable):
        await client.node.version()  # A fails; B is checked first and refused
    assert b.calls("GET", "/eth/v1/node/version") == []
    assert client.health()[1].excluded is not None


async def test_without_a_configured_root_a_disagreeing_pair_is_a_conflict(
    nodes: Nodes, make_client: MakeClient
) -> None:
    liar, honest = await nodes(), await nodes()
    liar.ok("GET", GENESIS_PATH, OTHER_CHAIN)  # first in line: before the fix its root won
    honest.ok("GET", GENESIS_PATH, GENESIS)
    honest.ok("GET", "/eth/v1/node/version", {"data": {"version": "Teku/v1"}})
    client = make_client(liar.url, honest.url)
    with pytest.raises(GenesisConflict, match=r"set \[beacon\] genesis_root") as caught:
        await client.check_genesis()
    assert liar.url in str(caught.value)
    assert honest.url in str(caught.value)
    assert all(h.excluded is None for h in client.health())  # neither is excluded
    with pytest.raises(GenesisConflict):  # and neither is used meanwhile
        await client.node.version()
    assert honest.calls("GET", "/eth/v1/node/version") == []
    # The operator says which chain: the liar is excluded, the honest node serves.
    genesis = await client.check_genesis(GENESIS["data"]["genesis_validators_root"])
    assert genesis.genesis_validators_root == GENESIS["data"]["genesis_validators_root"]
    assert client.health()[0].excluded is not None
    assert client.health()[1].excluded is None
    assert (await client.node.version()).version == "Teku/v1"


async def test_without_a_configured_root_the_majority_decides(
    nodes: Nodes, make_client: MakeClient
) -> None:
    liar, a, b = await nodes(), await nodes(), await nodes()
    liar.ok("GET", GENESIS_PATH, OTHER_CHAIN)
    a.ok("GET", GENESIS_PATH, GENESIS)
    b.ok("GET", GENESIS_PATH, GENESIS)
    client = make_client(liar.url, a.url, b.url)
    genesis = await client.check_genesis()
    assert genesis.genesis_validators_root == GENESIS["data"]["genesis_validators_root"]
    assert [h.excluded is not None for h in client.health()] == [True, False, False]


async def test_a_late_disagreeing_node_is_a_conflict_not_excluded(
    nodes: Nodes, make_client: MakeClient
) -> None:
    first, late = await nodes(), await nodes()
    first.ok("GET", GENESIS_PATH, OTHER_CHAIN)  # answers alone at start: provisional only
    late.ok("GET", GENESIS_PATH, GENESIS)
    first.on("GET", "/eth/v1/node/version", error(500, "boom"))
    late.ok("GET", "/eth/v1/node/version", {"data": {"version": "Teku/v1"}})
    client = make_client(first.url, late.url)
    late_genesis = late.routes.pop(("GET", GENESIS_PATH))
    await client.check_genesis()
    late.routes[("GET", GENESIS_PATH)] = late_genesis
    with pytest.raises(NodeUnavailable):
        await client.node.version()  # first fails; late is checked, disagrees: conflict
    assert all(h.excluded is None for h in client.health())
    with pytest.raises(GenesisConflict, match="genesis_root"):
        await client.node.version()
    assert late.calls("GET", "/eth/v1/node/version") == []


async def test_node_down_and_recovered_are_logged_once(
    nodes: Nodes, make_client: MakeClient
) -> None:
    a, b = await nodes(), await nodes()
    b.ok("GET", GENESIS_PATH, GENESIS)
    a_url = a.url
    await a.stop()
    client = make_client(a_url, b.url, offline_backoff=Backoff(base=0.01, maximum=0.01))
    with capture_logs() as logs:
        for _ in range(4):
            await client.node.genesis()
            await asyncio.sleep(0.02)  # past the window: A is asked (and fails) again
    downs = [e for e in logs if e["event"] == "beacon_node_down"]
    assert len(downs) == 1
    assert downs[0]["node"] == a_url
    assert downs[0]["log_level"] == "warning"
