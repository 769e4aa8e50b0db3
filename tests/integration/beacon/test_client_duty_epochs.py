"""Proposer duties that list another epoch's slots (stock Lodestar v1.5.1 answers the next epoch
with the current epoch's slot numbers) are refused, never used to judge the wrong slots."""

from __future__ import annotations

import pytest

from stakepool.beacon.errors import InconsistentAnswer
from tests.integration.beacon.common import MakeClient, Nodes

ROOT = "0x" + "ab" * 32
PUBKEY = "0x" + "cd" * 48


def duties(slots: range) -> dict[str, object]:
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
