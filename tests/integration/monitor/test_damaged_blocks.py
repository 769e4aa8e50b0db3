"""A block answer damaged in a way that still parses is read again, never taken as the chain.

The reliability suite's corrupting proxy once emptied a block's ``attestations`` (``wrong_type``:
``[]``); the monitor took it as a block without attestations and told a member's attestation
``missed`` where the undisturbed run had it included (a final ledger row differed). Such a block
is now read a second time: two reads that disagree fail the load (the epoch's part is retried),
two that agree are the node's word.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.monitor.blockcache import BlockCache
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.simkit import Handler, InterceptingSimServer

SLOT = 12


U64_MAX = str(2**64 - 1)


class Emptying(InterceptingSimServer):
    """Empties the attestations of block ``SLOT`` in the first ``times`` answers about it (or,
    ``bits``, drops the first attestation's Electra ``committee_bits``; or ``spoil`` sets one
    number of the answer to 2⁶⁴−1: the block's ``slot``, or the first attestation's ``target``
    or ``source`` epoch)."""

    def __init__(self, chain: SimChain, times: int, *, bits: bool = False, spoil: str = "") -> None:
        super().__init__(chain)
        self.times = times
        self.bits = bits
        self.spoil = spoil
        self.reads: Counter[int] = Counter()

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.route.name != "getBlockV2":
            return response
        slot = int(request.match_info["block_id"])
        self.reads[slot] += 1
        if slot != SLOT or self.reads[slot] > self.times:
            return response
        assert isinstance(response, web.Response)
        assert response.body is not None
        body = json.loads(bytes(response.body))  # type: ignore[arg-type]
        attestations = body["data"]["message"]["body"]["attestations"]
        if self.spoil == "slot":
            body["data"]["message"]["slot"] = U64_MAX
        elif self.spoil:
            attestations[0]["data"][self.spoil]["epoch"] = U64_MAX
        elif self.bits:
            del attestations[0]["committee_bits"]
        else:
            attestations.clear()
        return web.json_response(body, headers={"Eth-Consensus-Version": body.get("version", "")})


async def _load(
    times: int, *, bits: bool = False, spoil: str = ""
) -> tuple[list[SignedBeaconBlock], Counter[int], Exception | None]:
    chain = SimChain(SimConfig(validators=64, preset="minimal", seed=3, genesis_time=1_700_000_000))
    chain.advance_to(3 * 8)
    server = Emptying(chain, times, bits=bits, spoil=spoil)
    seen: list[SignedBeaconBlock] = []
    failed: Exception | None = None
    async with server, BeaconClient([server.url]) as client:
        cache = BlockCache(client, 8)
        try:
            await cache.load(8, 15, seen.append)
        except InconsistentAnswer as exc:
            failed = exc
            await cache.load(8, 15, seen.append)  # the part's retry
        return list(cache.blocks(8, 15)), server.reads, failed


async def test_a_block_emptied_once_is_refused_then_read_whole() -> None:
    blocks, reads, failed = await _load(times=1)
    assert failed is not None
    assert f"slot {SLOT}" in str(failed)
    block = next(b for b in blocks if b.slot == SLOT)
    assert block.message.body.attestations  # the real block, not the emptied answer
    assert reads[SLOT] == 3  # emptied, whole (disagree), whole again at the retry


async def test_a_node_that_says_the_same_twice_is_believed() -> None:
    blocks, reads, failed = await _load(times=2)
    assert failed is None
    block = next(b for b in blocks if b.slot == SLOT)
    assert block.message.body.attestations == ()
    assert reads[SLOT] == 2
    assert all(reads[s] == 1 for s in range(8, 16) if s != SLOT)  # ordinary blocks: one read


async def test_ordinary_blocks_are_read_once() -> None:
    _, reads, failed = await _load(times=0)
    assert failed is None
    assert all(reads[s] == 1 for s in range(8, 16))


async def test_an_electra_attestation_without_its_committee_bits_is_refused_then_read_whole() -> (
    None
):
    blocks, reads, failed = await _load(times=1, bits=True)
    assert failed is not None
    block = next(b for b in blocks if b.slot == SLOT)
    assert all(a.committee_bits is not None for a in block.message.body.attestations)
    assert reads[SLOT] == 3


async def test_a_block_answer_naming_a_later_slot_is_refused_not_taken_as_empty() -> None:
    """The proxy's 2⁶⁴−1 in the block's own slot: taken as "the node answered another block",
    the slot looked empty and its attestations left the window (members told ``missed``)."""
    blocks, reads, failed = await _load(times=1, spoil="slot")
    assert failed is not None
    assert f"slot {SLOT}: the answer names slot {U64_MAX}" in str(failed)
    block = next(b for b in blocks if b.slot == SLOT)
    assert block.message.body.attestations
    assert reads[SLOT] == 2  # refused at once, read whole at the retry


@pytest.mark.parametrize("spoil", ["target", "source"])
async def test_an_attestation_of_no_includable_epoch_is_refused_then_read_whole(
    spoil: str,
) -> None:
    """A target that is not the vote's slot's epoch (or a source after it) is no vote a chain
    includes: taken as it came, the aggregate counted for no one and its members were told
    ``missed``."""
    blocks, reads, failed = await _load(times=1, spoil=spoil)
    assert failed is not None
    block = next(b for b in blocks if b.slot == SLOT)
    first = block.message.body.attestations[0]
    assert first.data.target.epoch == first.data.slot // 8
    assert reads[SLOT] == 3
