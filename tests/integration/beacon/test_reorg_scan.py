"""A reorg the stream's node held back is found again in the blocks another node knows, as the
same event (same slot, depth, roots) the node's own stream sent: its event id is the same."""

from __future__ import annotations

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import ChainReorgEvent
from stakepool.beacon.reorg_scan import ReorgScan
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import SimScenario
from stakepool.sim.server import SimServer

SPE = 8
ORPHANED = 3 * SPE + 3


def _chain() -> SimChain:
    return SimChain(
        SimConfig(
            validators=64,
            preset="minimal",
            seed=5,
            genesis_time=0,
            scenario=SimScenario(orphaned_slots=frozenset({ORPHANED})),
        )
    )


def _streamed_reorgs(chain: SimChain, slot: int) -> list[ChainReorgEvent]:
    """What the node's own stream says while the chain advances to ``slot``."""
    out = []
    for outcome in chain.advance_to(slot):
        for topic, payload in outcome.events:
            if topic == "chain_reorg":
                out.append(ChainReorgEvent.model_validate(payload))
    return out


def _key(e: ChainReorgEvent) -> tuple[int, int, int, str, str]:
    return (e.slot, e.epoch, e.depth, e.old_head_block, e.new_head_block)


async def test_a_reorg_missed_by_a_hung_stream_is_found_as_the_node_told_it() -> None:
    chain = _chain()
    chain.advance_to(ORPHANED - 3)  # the last head the hung node streamed
    async with SimServer(chain) as sim:
        client = BeaconClient([sim.url], timeout=2, retries=0)
        try:
            scan = ReorgScan(client, slots_per_epoch=SPE)
            scan.saw(ORPHANED - 3, "http://hung")
            told = _streamed_reorgs(chain, ORPHANED + 4)
            assert len(told) == 1  # the reorg the hung node would have streamed
            # The next head comes by polling another node: the gap is scanned.
            assert scan.needs_scan(ORPHANED + 4, None)
            found = await scan.between(ORPHANED + 4, None)
            assert [_key(e) for e in found] == [_key(told[0])]
            # The same gap is not told twice: the previous head moved on.
            assert not scan.needs_scan(ORPHANED + 4, None)
        finally:
            await client.close()


async def test_heads_from_the_same_stream_are_not_scanned_and_a_clean_gap_finds_nothing() -> None:
    chain = _chain()
    chain.advance_to(SPE)
    async with SimServer(chain) as sim:
        client = BeaconClient([sim.url], timeout=2, retries=0)
        try:
            scan = ReorgScan(client, slots_per_epoch=SPE)
            scan.saw(SPE, "http://a")
            assert not scan.needs_scan(SPE + 1, "http://a")  # its stream tells its reorgs
            assert scan.needs_scan(SPE + 5, "http://b")
            chain.advance_to(SPE + 5)
            assert await scan.between(SPE + 5, "http://b") == []
        finally:
            await client.close()
