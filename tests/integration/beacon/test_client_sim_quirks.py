"""The client's general answers to what stock Lodestar v1.5.1 does (tests/e2e/devnet/README.md),
each quirk switched on in the simulator alone: the answer must be the one a conforming node gives.
"""

from __future__ import annotations

import pytest

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import BeaconEvent, HeadEvent, Topic
from stakepool.beacon.stream import EventStream
from stakepool.sim.scenario import SimScenario
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import SPE, collect_until, live_chain, stepped_chain, wait_until

EMPTY = frozenset({2 * SPE + 5, 2 * SPE + 6, 3 * SPE})
"""Two empty slots inside epoch 2, and the empty first slot of epoch 3."""
POOL = [1, 2, 3, 40, 63]


async def test_balances_that_omit_validators_are_read_from_the_validators_endpoint(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(3 * SPE + 2)
    node = await serve_sim(chain)
    client = sim_client(node.url)
    truth = await client.state.balances("head", POOL)
    assert len(truth.data) == len(POOL)
    # Lodestar: no POST routes, and balances by index answered with [].
    node.faults.set("postStateValidatorBalances", "not_found")
    node.faults.set("postStateValidators", "not_found")
    node.faults.set("getStateValidatorBalances", "empty_data")
    answer = await client.state.balances("head", [*POOL, 10_000])  # 10000 does not exist
    assert answer.data == truth.data
    assert node.requests["getStateValidators"] == 1


async def test_a_state_at_an_empty_slot_is_read_from_the_last_block_in_its_epoch(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(4 * SPE + 2, scenario=SimScenario(missed_slots=EMPTY))
    node = await serve_sim(chain)
    client = sim_client(node.url)
    for slot in EMPTY:
        assert await client.blocks.header(slot) is None
    inside = 2 * SPE + 6
    # What a conforming node answers for the empty slots' states:
    balances = await client.state.balances(inside, POOL)
    validators = await client.state.validators(inside, POOL)
    checkpoints = await client.state.finality_checkpoints(3 * SPE)
    boundary = await client.state.balances(3 * SPE, POOL)
    assert boundary.data != balances.data  # epoch processing ran in between

    node.faults.no_state_at_empty_slot = True
    with pytest.raises(NotFound):
        await client.state._balances_at(str(inside), [str(i) for i in POOL], 5.0)  # the quirk
    assert (await client.state.balances(inside, POOL)).data == balances.data
    assert (await client.state.validators(inside, POOL)).data == validators.data
    # Checkpoints move only at the boundary: a later block of epoch 3 stands in for its first slot.
    assert (await client.state.finality_checkpoints(3 * SPE)).data == checkpoints.data
    # Balances at an empty first slot differ from every block's state: no stand-in.
    with pytest.raises(NotFound):
        await client.state.balances(3 * SPE, POOL)


async def test_finality_without_the_finalized_flag_comes_from_the_checkpoints(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = stepped_chain(6 * SPE + 2)
    node = await serve_sim(chain)
    node.faults.omit_finalized = True
    client = sim_client(node.url)
    finalized_epoch = chain.head.finalized.epoch
    assert finalized_epoch >= 2
    old_slot = finalized_epoch * SPE - 1
    old = await client.state.balances(old_slot, POOL)
    head = await client.state.balances("head", POOL)
    assert old.finalized is None
    assert head.finalized is None
    assert await client.state.is_finalized(old, old_slot)
    assert not await client.state.is_finalized(head, chain.head_slot)
    node.faults.omit_finalized = False
    assert (await client.state.balances(old_slot, POOL)).finalized is True


@pytest.mark.parametrize("unknown_first", [False, True])
async def test_topics_a_lax_node_never_answers_are_dropped_and_quiet_ones_kept(
    unknown_first: bool, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """Lodestar sends no status line before the first event and hangs on an unknown topic that
    comes first (it streams the rest when it comes later): quiet topics must not look refused."""
    slot = 0.1
    chain = live_chain(int(slot * 1000))
    node = await serve_sim(chain, auto_advance=True)
    node.faults.sse_lazy_headers = True
    node.faults.sse_lax_topics = True
    node.faults.sse_unknown_topics = {"attester_slashing", "proposer_slashing"}
    client = sim_client(node.url)
    quiet = [Topic.CHAIN_REORG, Topic.VOLUNTARY_EXIT, Topic.BLS_TO_EXECUTION_CHANGE]
    unknown = [Topic.ATTESTER_SLASHING, Topic.PROPOSER_SLASHING]
    topics = [*unknown, Topic.HEAD, *quiet] if unknown_first else [Topic.HEAD, *quiet, *unknown]
    stream = EventStream(
        client,
        topics,
        slot_seconds=slot,
        slots_per_epoch=SPE,
        first_byte_timeout=1.0,
        reconnect_backoff=Backoff(base=0.05, maximum=0.2),
    )
    events: list[BeaconEvent] = []
    async with stream:
        await wait_until(
            lambda: stream.unavailable_topics == frozenset(unknown), "unknown topics found", 20
        )
        since = len(events)
        await collect_until(
            stream,
            events,
            lambda got: sum(not e.polled for e in got[since:]) >= 3,
            "heads from the stream",
            20,
        )
        # The stream itself is resubscribed without them (a lax node would keep them forever).
        wanted = (Topic.HEAD.value, *(t.value for t in quiet))
        await wait_until(
            lambda: node.events.open_subscriptions == [wanted], "one clean subscription", 20
        )
    streamed = [e for e in events[since:] if not e.polled]
    assert all(isinstance(e.data, HeadEvent) for e in streamed)
    assert stream.unavailable_topics == frozenset(unknown)  # quiet topics were not dropped
