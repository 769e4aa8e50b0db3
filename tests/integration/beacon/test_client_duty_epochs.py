"""Proposer duties that list another epoch's slots (stock Lodestar v1.5.1 answers the next epoch
with the current epoch's slot numbers) are refused, never used to judge the wrong slots."""

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
