"""One malformed rewards answer costs a request asked again, not the window's explanation.

An explanation takes a dozen answers or more (attestation rewards, the block rewards of the
pool's blocks, the sync committee and its rewards per block). Before, one malformed answer among
them failed the whole explanation; the window was asked again later, and under the reliability
suite's corrupting proxy the last windows before a halt were sometimes settled final without it
(a ledger unlike the undisturbed run's). Now each such request is asked again at once, a bounded
number of times (``ASKS``); a node whose answers stay malformed still leaves the window
unexplained, to be asked again later.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.explanation_reader import ASKS
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.types import EpochRewards
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.simkit import Handler, InterceptingSimServer

SPE = 8
POOL = range(16)
WINDOW = 3
ROUTES = ("getAttestationsRewards", "getSyncCommitteeRewards", "getBlockRewards")


class Spoiling(InterceptingSimServer):
    """Answers the first ``spoil`` requests of route ``name`` with a cut-short JSON body."""

    def __init__(self, chain: SimChain, name: str, spoil: int) -> None:
        super().__init__(chain)
        self.name = name
        self.spoil = spoil
        self.asked = 0

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.route.name != self.name:
            return response
        self.asked += 1
        if self.asked > self.spoil:
            return response
        return web.Response(body=b'{"execution_optimistic":false,"data":{"total_re',
                            content_type="application/json")  # fmt: skip


async def _window(name: str, spoil: int) -> tuple[EpochRewards, int]:
    chain = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000))
    chain.advance_to((WINDOW + 1) * SPE + 1)
    server = Spoiling(chain, name, spoil)
    async with server, BeaconClient([server.url], retries=0) as client:
        genesis = await client.node.genesis()
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        window = await RewardsFetcher(client, spec).epoch(WINDOW, POOL)
        return window, server.asked


@pytest.mark.parametrize("name", ROUTES)
async def test_a_malformed_rewards_answer_is_asked_again_and_the_window_explained(
    name: str,
) -> None:
    clean, asked_clean = await _window(name, 0)
    assert clean.explanation_available
    assert asked_clean >= 1, f"the window never asked {name}: nothing was tested"
    spoiled, asked = await _window(name, 1)
    assert spoiled.explanation_available, spoiled.explanation_reason
    assert spoiled.validators == clean.validators
    assert asked == asked_clean + 1


async def test_answers_that_stay_malformed_leave_the_window_unexplained_for_later() -> None:
    clean, _ = await _window("getAttestationsRewards", 0)
    spoiled, asked = await _window("getAttestationsRewards", ASKS)
    assert not spoiled.explanation_available
    assert spoiled.explanation_reason is not None
    assert "malformed" in spoiled.explanation_reason
    assert asked == ASKS  # bounded: asked ASKS times, then left for a later try
    # The money does not wait for the explanation.
    assert [v.settlement_gwei for v in spoiled.validators] == [
        v.settlement_gwei for v in clean.validators
    ]
