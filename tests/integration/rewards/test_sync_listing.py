"""Duplicate sync seats are counted once per seat, whichever way a node lists them.

Lighthouse lists one ``rewards/sync_committee`` entry per seat, each carrying the validator's
*aggregate* for the block (accounting.md §3.3); summing entries per validator (right for a node that
lists per-seat amounts) then counts a two-seat validator's reward twice. The simulator lists one
entry per validator; a middleware here re-lists its answer the Lighthouse way.
"""

from __future__ import annotations

import json
from collections import Counter

from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.simkit import Handler, InterceptingSimServer

SPE = 8
POOL = range(32)
WINDOW = 3


class LighthouseListing(InterceptingSimServer):
    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.route.name != "getSyncCommitteeRewards":
            return response
        assert isinstance(response, web.Response)
        assert response.text is not None
        body = json.loads(response.text)
        record = self.chain.block(request.match_info["block_id"])
        assert record is not None
        committee = self.chain.sync_committee(record.slot // SPE)
        assert committee is not None
        seats = Counter(committee.tolist())
        body["data"] = [
            entry for entry in body["data"] for _ in range(seats[int(entry["validator_index"])])
        ]
        return web.json_response(body)


async def test_two_seat_validators_are_not_double_counted() -> None:
    chain = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000))
    chain.advance_to((WINDOW + 1) * SPE + 1)
    committee = chain.sync_committee(WINDOW)
    assert committee is not None
    doubled = [v for v in POOL if committee.tolist().count(v) == 2]
    assert doubled
    async with LighthouseListing(chain) as server, BeaconClient([server.url]) as client:
        block_root = chain.block_root_at_slot(WINDOW * SPE + 1)
        listed = await client.rewards.sync_committee(block_root, doubled)
        assert listed is not None
        record = chain.block(block_root)
        assert record is not None
        truth_in_block = record.sync.per_validator()
        # The node-level sum is wrong for these validators: that is the trap.
        assert {int(r.validator_index): int(r.reward) for r in listed.data} == {
            v: 2 * truth_in_block[v] for v in doubled
        }

        genesis = await client.node.genesis()
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        w = await RewardsFetcher(client, spec).epoch(WINDOW, POOL)
    assert w.explanation_available
    assert all(v.residual_gwei == 0 for v in w.validators)
    for v in doubled:
        truth = sum(
            b.sync.per_validator().get(v, 0)
            for slot in range(WINDOW * SPE, (WINDOW + 1) * SPE)
            for b in chain.blocks_at_slot(slot)
            if b.canonical
        )
        e = w.validators[v].explanation
        assert e is not None
        assert e.sync == truth != 0
