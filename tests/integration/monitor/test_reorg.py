"""A ``chain_reorg`` re-judges our proposals at once: a block of ours judged ``proposed`` and then
reorged out is told ``orphaned`` right away, not at the next epoch.

The simulator is stepped by hand: its block at the last slot of epoch 2 is head (and judged
proposed), the next slot's block replaces it, and the reorg event reaches the monitor.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import BeaconEvent, ChainReorgEvent, Topic
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Root, Slot
from stakepool.monitor.events import BlockOrphaned, BlockProposed, ProposalChanged
from stakepool.monitor.head import HeadView
from stakepool.monitor.service import MonitorService
from stakepool.monitor.verdicts import ProposalVerdict
from stakepool.publish.metrics import Metrics
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import SimScenario
from stakepool.sim.server import SimServer
from tests.integration.listening import listen
from tests.integration.monitor.test_service import Recorder

SPE = 8
EPOCH = 2
SLOT = (EPOCH + 1) * SPE - 1
VALIDATORS = 64


async def test_a_reorg_turns_our_proposed_block_orphaned_at_once() -> None:
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            seed=5,
            genesis_time=0,
            scenario=SimScenario(orphaned_slots=frozenset({SLOT})),
        )
    )
    chain.advance_to(SLOT)  # our block at SLOT is the head
    async with SimServer(chain) as sim:
        client = BeaconClient([sim.url], timeout=2, retries=0)
        try:
            genesis = await client.check_genesis(None)
            spec = ChainSpec.from_api(
                await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
            )
            metrics = Metrics()
            metrics.set_pool((v, None) for v in range(VALIDATORS))
            rec = Recorder()
            bus = EventBus()
            listen(rec)(bus)
            monitor = MonitorService(client, spec, range(VALIDATORS), metrics.duties, bus)
            old_root = chain.block_root_at_slot(SLOT)
            # The clock is in the next slot, whose block has not come yet: SLOT is judged.
            head = HeadView(Slot(SLOT + 1), Root(old_root), Epoch(EPOCH), Epoch(0), Epoch(0))
            await monitor.on_epoch_closed(Epoch(EPOCH), head)
            proposed = [e for e in rec.events if isinstance(e, BlockProposed) and e.slot == SLOT]
            assert len(proposed) == 1
            proposer = proposed[0].validator_index

            chain.advance_slot()  # the next block builds on SLOT − 1: SLOT is orphaned
            assert chain.block_root_at_slot(SLOT) != old_root
            told = len(rec.events)
            reorg = ChainReorgEvent.model_validate(
                {
                    "slot": str(SLOT + 1),
                    "depth": "1",
                    "old_head_block": old_root,
                    "new_head_block": chain.block_root_at_slot(SLOT + 1),
                    "old_head_state": "0x" + "11" * 32,
                    "new_head_state": "0x" + "22" * 32,
                    "epoch": str((SLOT + 1) // SPE),
                }
            )
            await monitor.on_stream_event(BeaconEvent(Topic.CHAIN_REORG, reorg, sim.url))
        finally:
            await client.close()

    after = rec.events[told:]
    changed = [e for e in after if isinstance(e, ProposalChanged)]
    assert [(e.slot, e.old, e.new) for e in changed] == [
        (SLOT, ProposalVerdict.PROPOSED, ProposalVerdict.ORPHANED)
    ]
    orphaned = [e for e in after if isinstance(e, BlockOrphaned)]
    assert [(e.slot, e.validator_index) for e in orphaned] == [(SLOT, proposer)]
    scraped = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }
    key = (("outcome", "orphaned"), ("validator", str(proposer)))
    assert scraped["stakepool_proposals_total", key] == 1
