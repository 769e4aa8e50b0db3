"""Duties and checkpoints that no chain holds are refused, never used to judge: proposer duties
that list another epoch's slots (stock Lodestar v1.5.1 answers the next epoch with the current
epoch's slot numbers) or not one proposer per slot, attester duties outside the protocol's
bounds, finality checkpoints out of order or past their state's epoch."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from stakepool.beacon.errors import InconsistentAnswer
from tests.integration.beacon.common import MakeClient, Nodes

ROOT = "0x" + "ab" * 32
PUBKEY = "0x" + "cd" * 48


def duties(slots: Iterable[int]) -> dict[str, object]:
    return {
        "dependent_root": ROOT,
        "execution_optimistic": False,
        "data": [
            {"pubkey": PUBKEY, "validator_index": str(40 + i), "slot": str(s)}
            for i, s in enumerate(slots)
        ],
    }


async def test_proposer_duties_of_another_epoch_are_refused(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("GET", "/eth/v1/validator/duties/proposer/4", duties(range(32, 40)))
    node.ok("GET", "/eth/v1/validator/duties/proposer/5", duties(range(32, 40)))
    client = make_client(node.url)
    current = await client.duties.proposer(4)
    assert [d.slot for d in current.data] == list(range(32, 40))
    with pytest.raises(InconsistentAnswer) as caught:
        await client.duties.proposer(5)
    assert "epoch 5" in str(caught.value)
    assert "32" in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        pytest.param({**duties(range(0)), "data": []}, "slots missing: [32, 33", id="empty"),
        pytest.param(duties(range(32, 39)), "slots missing: [39]", id="a slot cut"),
        pytest.param(duties([*range(32, 39), 38]), "one proposer per slot", id="a slot twice"),
        pytest.param(
            {
                **duties(range(32, 40)),
                "data": [
                    *duties(range(32, 39))["data"],  # type: ignore[misc]
                    {"pubkey": PUBKEY, "validator_index": str(2**64 - 1), "slot": "39"},
                ],
            },
            "past the registry: [18446744073709551615]",
            id="an index past the registry",
        ),
    ],
)
async def test_proposer_duties_that_do_not_name_one_proposer_per_slot_are_refused(
    nodes: Nodes, make_client: MakeClient, answer: dict[str, object], why: str
) -> None:
    """A damaged answer that still parses (a list emptied or cut, a uint64 that no registry
    reaches) would drop one of our proposals without a word: refused, so it is asked again."""
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("GET", "/eth/v1/validator/duties/proposer/4", answer)
    client = make_client(node.url)
    with pytest.raises(InconsistentAnswer) as caught:
        await client.duties.proposer(4)
    assert why in str(caught.value)


async def test_genesis_duties_may_leave_slot_0_out(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("GET", "/eth/v1/validator/duties/proposer/0", duties(range(1, 8)))
    client = make_client(node.url)
    assert [d.slot for d in (await client.duties.proposer(0)).data] == list(range(1, 8))


def attester(**spoiled: str) -> dict[str, object]:
    """Two attester duties of epoch 4 (slots 32..39) for validators 40 and 41; ``spoiled``
    replaces fields of the second."""
    good = {
        "pubkey": PUBKEY,
        "committee_index": "3",
        "committee_length": "128",
        "committees_at_slot": "4",
        "validator_committee_index": "17",
    }
    return {
        "dependent_root": ROOT,
        "execution_optimistic": False,
        "data": [
            {**good, "validator_index": "40", "slot": "33"},
            {**good, "validator_index": "41", "slot": "35", **spoiled},
        ],
    }


U64_MAX = str(2**64 - 1)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        pytest.param(attester(slot=U64_MAX), "list other slots", id="a slot of no epoch"),
        pytest.param(attester(slot="40"), "list other slots: [40]", id="a slot of epoch 5"),
        pytest.param(attester(committee_index=U64_MAX), "past the slot's", id="a committee"),
        pytest.param(attester(committees_at_slot=U64_MAX), "outside 1..64", id="committees"),
        pytest.param(attester(committee_length=U64_MAX), "outside 1..2048", id="a length"),
        pytest.param(
            attester(validator_committee_index=U64_MAX), "past its committee", id="a position"
        ),
        pytest.param(attester(validator_index=U64_MAX), "not asked for", id="a stranger"),
    ],
)
async def test_attester_duties_outside_the_protocols_bounds_are_refused(
    nodes: Nodes, make_client: MakeClient, answer: dict[str, object], why: str
) -> None:
    """A uint64 that parses but no chain can hold (the corrupting proxy's 2⁶⁴−1) in a duty would
    judge a member against the wrong committee or bit and tell a miss that never happened:
    refused, so the monitor asks again."""
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("POST", "/eth/v1/validator/duties/attester/4", answer)
    client = make_client(node.url)
    with pytest.raises(InconsistentAnswer) as caught:
        await client.duties.attester(4, [40, 41])
    assert why in str(caught.value)


async def test_attester_duties_within_the_bounds_are_taken(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("POST", "/eth/v1/validator/duties/attester/4", attester())
    client = make_client(node.url)
    answer = await client.duties.attester(4, [40, 41, 42])  # 42 has no duty: not active
    assert [(d.validator_index, d.slot) for d in answer.data] == [(40, 33), (41, 35)]


def checkpoints(previous: int, justified: int, finalized: int) -> dict[str, object]:
    def point(epoch: int) -> dict[str, str]:
        return {"epoch": str(epoch), "root": ROOT}

    return {
        "execution_optimistic": False,
        "finalized": True,
        "data": {
            "previous_justified": point(previous),
            "current_justified": point(justified),
            "finalized": point(finalized),
        },
    }


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        pytest.param(checkpoints(3, 2**64 - 1, 2), "3, 18446744073709551615, 2", id="justified"),
        pytest.param(checkpoints(3, 4, 5), "3, 4, 5", id="finalized after justified"),
        pytest.param(checkpoints(5, 4, 3), "5, 4, 3", id="previous after justified"),
        pytest.param(checkpoints(4, 5, 4), "4, 5, 4", id="past the slot's epoch"),
    ],
)
async def test_checkpoints_no_state_holds_are_refused(
    nodes: Nodes, make_client: MakeClient, answer: dict[str, object], why: str
) -> None:
    """The proxy's 2⁶⁴−1 as the justified epoch of the state at an epoch's first slot would mark
    every member's source vote of that epoch wrong: refused, so it is asked again."""
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("GET", "/eth/v1/beacon/states/32/finality_checkpoints", answer)  # epoch 4
    client = make_client(node.url)
    with pytest.raises(InconsistentAnswer) as caught:
        await client.state.finality_checkpoints(32)
    assert why in str(caught.value)


async def test_checkpoints_a_state_holds_are_taken(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/config/spec", {"data": {"SLOTS_PER_EPOCH": "8"}})
    node.ok("GET", "/eth/v1/beacon/states/32/finality_checkpoints", checkpoints(3, 4, 3))
    node.ok("GET", "/eth/v1/beacon/states/head/finality_checkpoints", checkpoints(6, 7, 6))
    client = make_client(node.url)
    assert (await client.state.finality_checkpoints(32)).data.current_justified.epoch == 4
    assert (await client.state.finality_checkpoints("head")).data.finalized.epoch == 6
