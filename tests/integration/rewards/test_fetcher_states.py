"""Which states a window is read from: pinned to its blocks' fork by root, by slot otherwise."""

from __future__ import annotations

import pytest
from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.types import EpochRewards
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import SimScenario
from stakepool.sim.server import SimServer
from tests.integration.simkit import Handler, InterceptingSimServer

SPE = 8
POOL = range(32)
EMPTY_EPOCH = 5


class NoStatesByRoot(InterceptingSimServer):
    """Like a node that prunes non-boundary states: a state asked for by root is not found."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.get("state_id", "").startswith("0x"):
            return web.json_response({"code": 404, "message": "State not found"}, status=404)
        return await handler(request)


@pytest.fixture(scope="module")
def chain() -> SimChain:
    scenario = SimScenario(
        missed_slots=frozenset(range(EMPTY_EPOCH * SPE, (EMPTY_EPOCH + 1) * SPE)),
    )
    c = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000, scenario=scenario))
    c.advance_to(8 * SPE + 2)
    return c


async def _windows(server: SimServer) -> dict[int, EpochRewards]:
    async with BeaconClient([server.url], retries=0) as client:
        genesis = await client.node.genesis()
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        fetcher = RewardsFetcher(client, spec)
        return {k: await fetcher.epoch(k, POOL) for k in range(3, 8)}


async def test_states_by_root_where_blocks_pin_them(chain: SimChain) -> None:
    async with SimServer(chain) as server:
        windows = await _windows(server)
    w4, w5, w6, w7 = windows[4], windows[5], windows[6], windows[7]
    last_block = chain.blocks_at_slot(
        max(s for s in range(4 * SPE, 5 * SPE) if chain.blocks_at_slot(s))
    )
    assert w4.end_state_id == last_block[0].state_root
    assert w4.start_state_id.startswith("0x")
    # The empty epoch: no block pins anything, so both ends are read by slot …
    assert w5.block_roots == ()
    assert (w5.start_state_id, w5.end_state_id) == (str(5 * SPE - 1), str(6 * SPE - 1))
    # … and the window after it starts by slot too (its first block's parent is in epoch 4).
    assert w6.start_state_id == str(6 * SPE - 1)
    assert w6.end_state_id.startswith("0x")
    assert w7.start_state_id.startswith("0x")
    for w in windows.values():
        assert w.explanation_available
        assert all(v.residual_gwei == 0 for v in w.validators)
    # Nothing happens to a balance in an empty epoch but the epoch transition's attestations.
    e = w5.validators[0].explanation
    assert e is not None
    assert w5.validators[0].settlement_gwei == e.attestations


async def test_a_node_without_states_by_root_is_read_by_slot(chain: SimChain) -> None:
    async with SimServer(chain) as server:
        by_root = await _windows(server)
    async with NoStatesByRoot(chain) as pruned:
        by_slot = await _windows(pruned)
    for k, w in by_slot.items():
        assert not w.start_state_id.startswith("0x")
        assert not w.end_state_id.startswith("0x")
        assert w.validators == by_root[k].validators
