"""Typed errors against the simulator's injected faults: a missing route is ``Unsupported``,
remembered, and worked around where a fallback route exists; a malformed answer is
``MalformedResponse`` naming the field, and another node answers instead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import MalformedResponse, Unsupported
from stakepool.beacon.models import Attestation, Envelope, SignedBeaconBlock
from stakepool.sim import ids
from stakepool.sim.chain import SimChain
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import SPE, stepped_chain

REWARDS = "getAttestationsRewards"
HEAD_SLOT = 3 * SPE + 2
"""Epoch 3: attestation rewards are known for epochs 0 and 1, not yet for 2 and 3."""


def body_of(block: Envelope[SignedBeaconBlock] | None) -> tuple[Attestation, ...]:
    assert block is not None
    return block.data.message.body.attestations


def balances_of(chain: SimChain, indices: list[int]) -> dict[int, int]:
    return {v: int(chain.head.balance[v]) for v in indices}


# --- Unsupported ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["not_found", "method_not_allowed", "not_implemented"])
async def test_a_missing_route_is_unsupported_and_remembered(
    fault: str, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(HEAD_SLOT)
    node = await serve_sim(chain)
    ttl = 0.3
    client = sim_client(node.url, unsupported_ttl=ttl)
    # A data 404 (rewards not computed yet) is an answer, not a missing route.
    assert await client.rewards.attestations(3, [8]) is None
    assert client.health()[0].unsupported == frozenset()

    node.faults.set(REWARDS, fault)
    with pytest.raises(Unsupported) as caught:
        await client.rewards.attestations(1, [8, 9])
    marked_at = time.monotonic()
    assert caught.value.endpoint == "attestation_rewards"
    assert caught.value.node == node.url
    assert str(caught.value).startswith("attestation_rewards")
    assert node.requests[REWARDS] == 2  # the data 404, then the missing route

    health = client.health()[0]
    assert health.unsupported == {"attestation_rewards"}
    assert health.up
    assert health.score == 100  # lacking a route is not a fault of the node

    with pytest.raises(Unsupported) as again:  # remembered: the node is not asked
        await client.rewards.attestations(1, [8, 9])
    assert again.value.endpoint == "attestation_rewards"
    assert node.requests[REWARDS] == 2
    assert time.monotonic() - marked_at < ttl, "the machine is too slow for this ttl"
    rewards = await client.rewards.block(HEAD_SLOT)  # other routes are unaffected
    assert rewards is not None

    # The node is "upgraded"; once the memory expires the route is asked again and answers.
    node.faults.clear()
    await asyncio.sleep(max(0.0, marked_at + ttl - time.monotonic()) + 0.01)
    answer = await client.rewards.attestations(1, [8, 9])
    assert answer is not None
    assert node.requests[REWARDS] == 3
    assert [r.validator_index for r in answer.data.total_rewards] == [8, 9]
    assert client.health()[0].unsupported == frozenset()


async def test_a_route_one_node_lacks_is_asked_of_the_other_only(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(HEAD_SLOT)
    a, b = await serve_sim(chain), await serve_sim(chain)
    a.faults.set(REWARDS, "not_implemented")  # an older client version on A
    client = sim_client(a.url, b.url)
    for _ in range(3):
        answer = await client.rewards.attestations(1, [8, 9])
        assert answer is not None
        assert len(answer.data.total_rewards) == 2
    assert (a.requests[REWARDS], b.requests[REWARDS]) == (1, 3)
    assert [h.unsupported for h in client.health()] == [{"attestation_rewards"}, frozenset()]
    header = await client.blocks.header("head")  # A is still the preferred node for the rest
    assert header is not None
    assert (a.requests["getBlockHeader"], b.requests["getBlockHeader"]) == (1, 0)


async def test_missing_post_routes_fall_back_to_get_in_chunks_of_64(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(HEAD_SLOT, validators=128)
    node = await serve_sim(chain)
    node.faults.set("postStateValidatorBalances", "method_not_allowed")
    node.faults.set("postStateValidators", "not_found")
    client = sim_client(node.url)
    indices = list(range(100))
    asked: list[int | str] = [*range(90), *(ids.pubkey(v) for v in range(90, 100))]

    balances = await client.state.balances("head", asked)
    assert {x.index: x.balance for x in balances.data} == balances_of(chain, indices)
    assert node.requests["postStateValidatorBalances"] == 1
    assert node.requests["getStateValidatorBalances"] == 2  # 100 ids: 64 + 36

    validators = await client.state.validators("head", asked, statuses=["active"])
    assert [v.index for v in validators.data] == indices
    assert all(v.validator.pubkey == ids.pubkey(v.index) for v in validators.data)
    assert node.requests["postStateValidators"] == 1
    assert node.requests["getStateValidators"] == 2

    again = await client.state.balances(
        "head", asked
    )  # POST remembered as missing: straight to GET
    assert again.data == balances.data
    assert node.requests["postStateValidatorBalances"] == 1
    assert node.requests["getStateValidatorBalances"] == 4
    assert client.health()[0].unsupported == {"validators", "validator_balances"}


async def test_other_fallback_routes(serve_sim: ServeSim, sim_client: MakeSimClient) -> None:
    chain = stepped_chain(HEAD_SLOT)
    node = await serve_sim(chain)
    client = sim_client(node.url)
    slot = HEAD_SLOT - 1
    block = await client.blocks.block(slot)
    assert block is not None
    body = block.data.message.body
    assert body.attestations

    node.faults.set("getBlindedBlock", "not_implemented")
    blinded = await client.blocks.blinded_block(slot)  # the full block stands in
    assert blinded is not None
    assert blinded.data == block.data

    node.faults.set("getBlockAttestationsV2", "not_found")
    via_v1 = await client.blocks.attestations(slot)
    assert via_v1 is not None
    assert via_v1.data == body.attestations
    assert node.requests["getBlockAttestations"] == 1

    node.faults.set("getBlockAttestations", "method_not_allowed")
    via_block = await client.blocks.attestations(slot + 1)  # v1 missing too: the block body
    assert via_block is not None
    assert via_block.data == body_of(await client.blocks.block(slot + 1))
    assert node.requests["getBlockAttestations"] == 2
    blocks = node.requests["getBlockV2"]
    again = await client.blocks.attestations(slot)  # both remembered: straight to the block
    assert again is not None
    assert again.data == body.attestations
    assert (node.requests["getBlockAttestationsV2"], node.requests["getBlockAttestations"]) == (
        1,
        2,
    )
    assert node.requests["getBlockV2"] == blocks + 1

    node.faults.set("getPoolAttesterSlashingsV2", "not_found")
    assert (await client.op_pool.attester_slashings()).data == ()
    assert node.requests["getPoolAttesterSlashings"] == 1

    # No fallback left: POST liveness is missing and the sim has no legacy GET form either.
    node.faults.set("getLiveness", "not_implemented")
    with pytest.raises(Unsupported) as caught:
        await client.duties.liveness(2, [8, 9])
    assert caught.value.endpoint == "liveness_legacy"
    assert node.requests["getLiveness"] == 1
    assert node.requests["GET /eth/v1/validator/liveness"] == 1


# --- MalformedResponse ---------------------------------------------------------------------

Call = Callable[[BeaconClient], Awaitable[Any]]


def _balances(client: BeaconClient) -> Awaitable[Any]:
    return client.state.balances("head", [3, 4])


def _header(client: BeaconClient) -> Awaitable[Any]:
    return client.blocks.header("head")


MALFORMED = [
    ("postStateValidatorBalances", "bad_integer", _balances, "validator_balances", "data[0].index"),
    (
        "postStateValidatorBalances",
        "number_not_string",
        _balances,
        "validator_balances",
        "data[0].index",
    ),
    (
        "postStateValidatorBalances",
        "missing_field",
        _balances,
        "validator_balances",
        "data[0].index",
    ),
    ("postStateValidatorBalances", "malformed_json", _balances, "validator_balances", "<body>"),
    ("getBlockHeader", "bad_integer", _header, "header", "data.header.message.slot"),
    ("getBlockHeader", "number_not_string", _header, "header", "data.header.message.slot"),
    ("getBlockHeader", "missing_field", _header, "header", "data.root"),
    ("getBlockHeader", "malformed_json", _header, "header", "<body>"),
]


def check_answer(chain: SimChain, answer: Any) -> None:
    if hasattr(answer.data, "root"):  # a header
        assert answer.data.slot == chain.head_slot
        assert answer.data.root == chain.head.latest_block_root
    else:
        assert {x.index: x.balance for x in answer.data} == balances_of(chain, [3, 4])


@pytest.mark.parametrize(("operation", "fault", "call", "endpoint", "field"), MALFORMED)
async def test_a_malformed_answer_names_endpoint_and_field(
    operation: str,
    fault: str,
    call: Call,
    endpoint: str,
    field: str,
    serve_sim: ServeSim,
    sim_client: MakeSimClient,
) -> None:
    chain = stepped_chain(HEAD_SLOT)
    node = await serve_sim(chain)
    client = sim_client(node.url, retries=3)
    node.faults.set(operation, fault)
    with pytest.raises(MalformedResponse) as caught:
        await call(client)
    error = caught.value
    assert (error.endpoint, error.field, error.node) == (endpoint, field, node.url)
    assert field in str(error)
    if fault == "missing_field":
        assert error.reason == "missing"
    assert node.requests[operation] == 1  # a malformed answer is not retried on the same node
    assert client.health()[0].up  # the node answered: still in line
    # The rest of the API still works while this route is broken.
    assert (await client.state.finality_checkpoints()).data.current_justified.epoch >= 1

    node.faults.clear()
    check_answer(chain, await call(client))  # same client, healthy answer


@pytest.mark.parametrize("fault", ["bad_integer", "missing_field", "malformed_json"])
async def test_a_malformed_answer_from_a_makes_b_answer(
    fault: str, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(HEAD_SLOT)
    a, b = await serve_sim(chain), await serve_sim(chain)
    a.faults.set("getBlockHeader", fault)
    client = sim_client(a.url, b.url)
    with capture_logs() as logs:
        header = await client.blocks.header("head")
    check_answer(chain, header)
    assert (a.requests["getBlockHeader"], b.requests["getBlockHeader"]) == (1, 1)
    warnings = [e for e in logs if e["event"] == "beacon_response_malformed"]
    assert len(warnings) == 1
    assert warnings[0]["node"] == a.url
    assert warnings[0]["endpoint"] == "header"
    health_a, health_b = client.health()
    assert health_a.up
    assert health_a.score < health_b.score  # it lost score but stays in line
    check_answer(chain, await client.blocks.header("head"))
    assert (a.requests["getBlockHeader"], b.requests["getBlockHeader"]) == (2, 2)

    b.faults.set("getBlockHeader", fault)  # every node garbles: the caller gets the typed error
    with pytest.raises(MalformedResponse) as caught:
        await client.blocks.header("head")
    assert caught.value.endpoint == "header"
    a.faults.clear()
    b.faults.clear()
    check_answer(chain, await client.blocks.header("head"))
