"""Fallbacks, remembered unsupported routes, batching, data 404s, empty id lists."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from stakepool.beacon.errors import MalformedResponse, NotFound, Unsupported
from tests.integration.beacon.common import (
    VALIDATORS,
    MakeClient,
    Nodes,
    serve,
)
from tests.integration.beacon.fakenode import Reply, error
from tests.unit.beacon.fixtures import load


async def test_validators_post_missing_falls_back_to_get_and_is_remembered(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    serve(node, "lodestar_route_not_found")
    entry = load("state_validators").body["data"][0]

    async def get_validators(request: web.Request) -> web.StreamResponse:
        ids = request.query.getall("id")
        assert len(ids) <= 64
        statuses = request.query.getall("status", [])
        assert "active" not in statuses
        return web.json_response(
            {
                "execution_optimistic": False,
                "data": [{**entry, "index": i} for i in ids if i.isdigit()],
            }
        )

    node.on("GET", VALIDATORS, get_validators)
    client = make_client(node.url)
    ids = list(range(100))
    env = await client.state.validators("head", ids, statuses=["active"])
    assert [v.index for v in env.data] == ids
    assert env.finalized is None
    assert len(node.calls("POST", VALIDATORS)) == 1
    assert len(node.calls("GET", VALIDATORS)) == 2  # 64 + 36
    assert client.health()[0].unsupported == {"validators"}
    await client.state.validators("head", [1])
    assert len(node.calls("POST", VALIDATORS)) == 1  # remembered: not asked again
    assert len(node.calls("GET", VALIDATORS)) == 3


async def test_unsupported_is_reprobed_after_the_ttl(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on("GET", "/eth/v1/beacon/rewards/blocks/5", error(501, "Not implemented"))
    client = make_client(node.url, unsupported_ttl=0.2)
    with pytest.raises(Unsupported) as caught:
        await client.rewards.block(5)
    assert caught.value.endpoint == "block_rewards"
    with pytest.raises(Unsupported):
        await client.rewards.block(5)
    assert len(node.seen) == 1
    await asyncio.sleep(0.25)
    serve(node, "rewards_blocks", "/eth/v1/beacon/rewards/blocks/5")
    rewards = await client.rewards.block(5)
    assert rewards is not None
    assert rewards.data.total == 40_123_456


async def test_empty_id_lists_are_never_sent(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    client = make_client(node.url)
    assert (await client.state.validators("head", [])).data == ()
    assert (await client.state.balances("head", [])).data == ()
    assert (await client.duties.attester(1, [])).data == ()
    assert (await client.duties.sync(1, [])).data == ()
    assert (await client.duties.liveness(1, [])).data == ()
    rewards = await client.rewards.attestations(1, [])
    assert rewards is not None
    assert rewards.data.total_rewards == ()
    sync = await client.rewards.sync_committee(1, [])
    assert sync is not None
    assert sync.data == ()
    assert node.seen == []


async def test_data_404_is_none_not_unsupported(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    serve(node, "header_not_found")
    node.on("GET", "/eth/v2/beacon/blocks/12345679", error(404, "Block not found"))
    node.on(
        "GET",
        "/eth/v1/beacon/states/0x" + "11" * 32 + "/finality_checkpoints",
        error(404, "State not found"),
    )
    client = make_client(node.url)
    assert await client.blocks.header(12345679) is None
    assert await client.blocks.block(12345679) is None
    with pytest.raises(NotFound):
        await client.state.finality_checkpoints("0x" + "11" * 32)
    assert await client.blocks.header(12345679) is None  # not remembered as unsupported
    assert len(node.seen) == 4


async def test_a_cut_short_json_404_is_asked_again_not_remembered_as_a_missing_route(
    nodes: Nodes, make_client: MakeClient
) -> None:
    """The node's "Block not found" cut on the way (as the hostile proxy serves it) once held the
    header route as missing for an hour, and with it a single-node daemon's whole settlement."""
    node = await nodes()
    path = "/eth/v1/beacon/headers/12345679"
    cut = Reply(404, raw=b'{"code":404,"message":"Block not fou',
                headers={"Content-Type": "application/json"})  # fmt: skip
    node.on("GET", path, cut, error(404, "Block not found"))
    client = make_client(node.url, retries=0)
    with pytest.raises(MalformedResponse) as caught:
        await client.blocks.header(12345679)
    assert caught.value.field == "<body>"
    assert client.health()[0].unsupported == set()
    assert await client.blocks.header(12345679) is None  # asked again: the node's data answer
    assert len(node.calls("GET", path)) == 2
    # A router's own page (plain text, not declared as JSON) is still a missing route.
    node.on("GET", path, Reply(404, raw=b"404: Not Found", headers={"Content-Type": "text/plain"}))
    with pytest.raises(Unsupported):
        await client.blocks.header(12345679)


async def test_liveness_falls_back_to_the_legacy_get(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.on(
        "POST",
        "/eth/v1/validator/liveness/11",
        error(404, "Route POST:/eth/v1/validator/liveness/11 not found"),
    )
    serve(node, "liveness_legacy_lodestar")
    client = make_client(node.url)
    env = await client.duties.liveness(11, [0, 62])
    assert [(x.index, x.is_live, x.epoch) for x in env.data] == [(0, True, 11), (62, False, 11)]
    legacy = node.calls("GET", "/eth/v1/validator/liveness")[0]
    assert legacy.query == [("indices", "0"), ("indices", "62"), ("epoch", "11")]


async def test_pool_attester_slashings_v1_fallback(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    serve(node, "pool_attester_slashings_v1")
    client = make_client(node.url)
    env = await client.op_pool.attester_slashings()
    assert env.data[0].attestation_2.attesting_indices == (202, 303, 404)


async def test_blinded_block_and_attestations_fallbacks(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    serve(node, "block_electra", "/eth/v2/beacon/blocks/9")
    client = make_client(node.url)
    blinded = await client.blocks.blinded_block(9)
    assert blinded is not None
    assert blinded.version == "electra"
    atts = await client.blocks.attestations(9)
    assert atts is not None
    assert len(atts.data) == 2
    assert atts.data[0].committee_bits is not None


async def test_rewards_batched_and_merged(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    serve(node, "rewards_attestations", "/eth/v1/beacon/rewards/attestations/7")
    serve(node, "rewards_sync_committee", "/eth/v1/beacon/rewards/sync_committee/9")
    client = make_client(node.url, batch_size=1)
    env = await client.rewards.attestations(7, [12, 13])
    assert env is not None
    assert len(node.calls("POST", "/eth/v1/beacon/rewards/attestations/7")) == 2
    assert len(env.data.ideal_rewards) == 3  # de-duplicated by effective balance
    assert len(env.data.total_rewards) == 4  # the fake answers both chunks in full
    assert env.finalized is True
    sync = await client.rewards.sync_committee(9, ["12"])
    assert sync is not None
    assert [(r.validator_index, r.reward) for r in sync.data] == [(12, 2832), (900, -1416)]
    node.on(
        "POST",
        "/eth/v1/beacon/rewards/attestations/8",
        error(404, "Epoch not known or required data not available"),
    )
    assert await client.rewards.attestations(8, [12]) is None
