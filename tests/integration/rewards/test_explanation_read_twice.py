"""An explanation that leaves a residual is read again until two reads agree.

A damaged answer that still parses (the reliability suite's corrupting proxy turns a figure into
``-1``) shows only as a residual, exactly like a client that rounds; before this, it was stored as
the node's word and kept in final rows (a ledger unlike an undisturbed run's). A rounding node
says the same thing twice and keeps its residual; a damaged answer does not repeat; a node whose
answers never agree leaves the window unexplained, to be asked again later.
"""

from __future__ import annotations

import json

from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.types import EpochRewards
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.simkit import Handler, InterceptingSimServer

SPE = 8
POOL = range(16)
WINDOW = 3
VICTIM = 5


class Damaging(InterceptingSimServer):
    """Adds ``shift(n)`` Gwei to the victim's inactivity figure in the n-th attestation-rewards
    answer (0: left alone)."""

    def __init__(self, chain: SimChain, shift: list[int]) -> None:
        super().__init__(chain)
        self.shift = shift
        self.answers = 0

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.route.name != "getAttestationsRewards":
            return response
        n, self.answers = self.answers, self.answers + 1
        delta = self.shift[min(n, len(self.shift) - 1)]
        assert isinstance(response, web.Response)
        assert response.text is not None
        body = json.loads(response.text)
        for row in body["data"]["total_rewards"]:
            if int(row["validator_index"]) == VICTIM:
                row["inactivity"] = str(int(row["inactivity"]) + delta)
        return web.json_response(body)


async def _window(shift: list[int]) -> tuple[EpochRewards, int]:
    chain = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000))
    chain.advance_to((WINDOW + 1) * SPE + 1)
    server = Damaging(chain, shift)
    async with server, BeaconClient([server.url]) as client:
        genesis = await client.node.genesis()
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        window = await RewardsFetcher(client, spec).epoch(WINDOW, POOL)
        return window, server.answers


def _residuals(window: EpochRewards) -> dict[int, int | None]:
    return {v.validator: v.residual_gwei for v in window.validators if v.residual_gwei != 0}


async def test_an_answer_damaged_once_is_not_stored() -> None:
    clean, reads = await _window([0])
    assert clean.explanation_available
    assert _residuals(clean) == {}
    assert reads == 1  # nothing to confirm: no residual, no second read

    damaged_once, reads = await _window([-1, 0])
    assert damaged_once.explanation_available
    assert _residuals(damaged_once) == {}
    assert damaged_once.validators == clean.validators
    assert reads == 3  # the damaged read disagreed with the second; the third agreed with it


async def test_a_node_that_rounds_the_same_way_twice_keeps_its_residual() -> None:
    rounding, reads = await _window([-1])
    assert rounding.explanation_available
    assert _residuals(rounding) == {VICTIM: 1}
    assert reads == 2


async def test_answers_that_never_agree_leave_the_window_unexplained() -> None:
    window, reads = await _window([-1, -2, -3])
    assert not window.explanation_available
    assert window.explanation_reason is not None
    assert "differ from one read to the next" in window.explanation_reason
    assert reads == 3
