"""``BeaconClient.state.pending_consolidations`` (added for the rewards) against a fake node."""

from __future__ import annotations

import pytest

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BadRequest, Unsupported
from tests.integration.beacon.fakenode import FakeNode, Reply
from tests.unit.beacon.fixtures import load

PATH = "/eth/v1/beacon/states/{}/pending_consolidations"


async def test_pending_consolidations_recorded_answer_and_pre_electra() -> None:
    node = await FakeNode().start()
    fx = load("pending_consolidations")
    node.on("GET", PATH.format("head"), Reply(fx.status, fx.body, fx.headers))
    node.on(
        "GET",
        PATH.format("100"),
        Reply(400, {"code": 400, "message": "State is prior to Electra"}),
    )
    node.on("GET", PATH.format("200"), Reply(501, {"code": 501, "message": "Not implemented"}))
    try:
        async with BeaconClient([node.url], retries=0, timeout=2.0) as client:
            env = await client.state.pending_consolidations()
            assert [(c.source_index, c.target_index) for c in env.data] == [
                (1042, 1043),
                (700000, 1043),
            ]
            with pytest.raises(BadRequest):
                await client.state.pending_consolidations(100)
            with pytest.raises(Unsupported):
                await client.state.pending_consolidations(200)
    finally:
        await node.stop()
