"""Every typed method once, against a fake node serving the recorded fixtures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import InconsistentAnswer
from tests.integration.beacon.fakenode import FakeNode, Reply
from tests.unit.beacon.fixtures import load

Nodes = Callable[[], Awaitable[FakeNode]]
MakeClient = Callable[..., BeaconClient]
EPOCH = 385802
SLOT = 12345678


def serve(node: FakeNode, name: str) -> None:
    fx = load(name)
    node.on(fx.method, fx.path, Reply(fx.status, fx.body, fx.headers))


async def test_every_method(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    for name in (
        "genesis",
        "config_spec",
        "node_syncing",
        "node_version",
        "state_validators",
        "state_validator_balances",
        "finality_checkpoints",
        "committees",
        "sync_committees",
        "pending_deposits",
        "header",
        "headers_at_slot",
        "block_electra",
        "blinded_block_electra",
        "block_attestations",
        "proposer_duties",
        "attester_duties",
        "sync_duties",
        "rewards_attestations",
        "rewards_blocks",
        "rewards_sync_committee",
        "liveness",
        "pool_attester_slashings",
        "pool_proposer_slashings",
        "pool_voluntary_exits",
    ):
        serve(node, name)
    c = make_client(node.url)

    assert (await c.node.genesis()).genesis_time == 1606824023
    assert (await c.node.spec())["SECONDS_PER_SLOT"] == "12"
    assert (await c.node.syncing()).is_syncing is False
    assert (await c.node.version()).client == "lighthouse"
    vals = await c.state.validators("head", [12, 13, 14, "0x" + "00" * 48])
    assert len(vals.data) == 4
    assert len((await c.state.balances("head", [12, 13, 15])).data) == 3
    assert (await c.state.finality_checkpoints()).data.finalized.epoch == EPOCH - 2
    committees = await c.state.committees(SLOT, slot=SLOT)
    assert committees.data[0].validators == (101, 202, 303, 404)
    assert node.calls("GET", f"/eth/v1/beacon/states/{SLOT}/committees")[0].query == [
        ("slot", str(SLOT))
    ]
    assert (await c.state.sync_committee("head", EPOCH)).data.validators[0] == 12
    assert len((await c.state.pending_deposits("head")).data) == 2
    header = await c.blocks.header(SLOT)
    assert header is not None
    assert header.data.proposer_index == 123456
    assert len((await c.blocks.headers_at_slot(SLOT)).data) == 2
    block = await c.blocks.block(SLOT)
    assert block is not None
    assert block.data.message.body.execution_requests is not None
    blinded = await c.blocks.blinded_block(SLOT)
    assert blinded is not None
    assert blinded.data.message.body.execution_payload_header is not None
    atts = await c.blocks.attestations(SLOT)
    assert atts is not None
    assert atts.version == "electra"
    assert len((await c.duties.proposer(EPOCH)).data) == 32  # one proposer per slot
    att_duties = await c.duties.attester(EPOCH, [12, 13])
    assert att_duties.dependent_root is not None
    assert node.calls("POST", f"/eth/v1/validator/duties/attester/{EPOCH}")[0].body == ["12", "13"]
    assert (await c.duties.sync(EPOCH, [12, 13])).data[0].validator_index == 12
    rewards = await c.rewards.attestations(EPOCH - 2, [12, 13])
    assert rewards is not None
    assert rewards.data.total_rewards[1].target == -5350
    block_rewards = await c.rewards.block(SLOT)
    assert block_rewards is not None
    assert block_rewards.data.proposer_index == 123456
    sync_rewards = await c.rewards.sync_committee(SLOT, [12, 900])
    assert sync_rewards is not None
    assert {r.validator_index: r.reward for r in sync_rewards.data} == {12: 2832, 900: -1416}
    live = await c.duties.liveness(EPOCH - 1, [12, 13])
    assert [x.is_live for x in live.data] == [True, False]
    assert len((await c.op_pool.attester_slashings()).data) == 1
    assert len((await c.op_pool.proposer_slashings()).data) == 1
    assert (await c.op_pool.voluntary_exits()).data[0].message.epoch == EPOCH
    assert all(s.method in ("GET", "POST") for s in node.seen)
    assert all(s.body is not None for s in node.seen if s.method == "POST")


async def test_duties_refetched_when_chunks_straddle_a_reorg(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "32"}})
    body = load("attester_duties").body
    path = f"/eth/v1/validator/duties/attester/{EPOCH}"
    root_a = {**body, "dependent_root": "0x" + "aa" * 32}
    root_b = {**body, "dependent_root": "0x" + "bb" * 32}
    node.on("POST", path, Reply(200, root_a), Reply(200, root_b))  # then root_b for ever
    client = make_client(node.url, batch_size=1)
    duties = await client.duties.attester(EPOCH, [12, 13])
    assert duties.dependent_root == "0x" + "bb" * 32
    assert len(node.calls("POST", path)) == 4

    node.on(
        "POST", path, Reply(200, root_a), Reply(200, root_b), Reply(200, root_a), Reply(200, root_b)
    )
    with pytest.raises(InconsistentAnswer):
        await client.duties.attester(EPOCH, [12, 13])
