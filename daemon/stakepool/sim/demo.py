"""The chain behind ``stakepool demo``: a small network whose pool lives through a bit of
everything, every scripted fault on one of the POOL's own validators.

Proposers are not chosen by the script but by the chain (RANDAO): the proposers of epoch ``e``
are fixed by the end of epoch ``e − 2``, so a probe chain run with the faults scripted so far
tells which pool validator will propose in a later epoch, and the missed and orphaned slots are
put there. The sync-committee member that goes silent is picked from the genesis committee.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledDeposit,
    ScheduledSlashing,
    SimScenario,
    WrongVotes,
)
from stakepool.sim.server import SimServer

OFFLINE, LATE, WRONG_HEAD, SLASHED, TOPPED_UP = 1, 2, 3, 4, 5
ORPHAN_EPOCH, MISSED_EPOCH = 3, 4
SLASHING_EPOCH, TOP_UP_EPOCH = 4, 3


@dataclass(slots=True)
class DemoChain:
    chain: SimChain
    server: SimServer
    pool: list[int]
    story: list[str] = dataclasses.field(default_factory=list)
    """What the script does to the pool, one short phrase each."""

    @property
    def url(self) -> str:
        return self.server.url

    def describe(self) -> str:
        p = self.chain.params
        return (
            f"simulated beacon node at {self.url}: {self.chain.validator_count} validators, "
            f"{p.slots_per_epoch} slots of {p.slot_duration_ms} ms per epoch; pool = validators "
            f"{self.pool[0]}..{self.pool[-1]} ({'; '.join(self.story)})"
        )


def demo_scenario(validators: int, pool_size: int, slots_per_epoch: int) -> SimScenario:
    """The faults that do not depend on the chain: who is offline, late, wrong, slashed."""
    spe = slots_per_epoch
    outsiders = max(pool_size, validators - validators // 16)
    slashing_slot = SLASHING_EPOCH * spe + 1
    return SimScenario(
        offline=(Offline((OFFLINE, OFFLINE)), Offline((outsiders, validators - 1))),
        late_votes=(LateVotes((LATE, LATE), delay=2),),
        wrong_votes=(WrongVotes((WRONG_HEAD, WRONG_HEAD), "head", epochs=(2, 5)),),
        slashings=(ScheduledSlashing("attester", (SLASHED,), slashing_slot, slashing_slot + 2),),
        deposits=(ScheduledDeposit(TOPPED_UP, 2_000_000_000, TOP_UP_EPOCH * spe + 1),),
        compounding=((6, 7),),
    )


def _pool_proposal(
    config: SimConfig, epoch: int, pool: Sequence[int], avoid: set[int]
) -> tuple[int, int] | None:
    """(slot, proposer) of the first slot of ``epoch`` a pool validator proposes (not genesis)."""
    probe = SimChain(config)
    probe.advance_to(epoch * probe.params.slots_per_epoch)
    proposers = probe.proposers(epoch)
    if proposers is None:
        return None
    spe = probe.params.slots_per_epoch
    for i, v in enumerate(int(p) for p in proposers):
        slot = epoch * spe + i
        if slot > 0 and v in pool and v not in avoid:
            return slot, v
    return None


def scripted_config(
    validators: int, pool: Sequence[int], base: SimConfig
) -> tuple[SimConfig, list[str]]:
    """``base`` with the demo's scenario, its missed/orphaned slots and silent sync member put
    on pool validators; and the story told in the header."""
    spe = SimChain.slots_per_epoch_of(base)
    scenario = demo_scenario(validators, len(pool), spe)
    config = dataclasses.replace(base, scenario=scenario)
    story = [
        f"{OFFLINE} offline",
        f"{LATE} votes late",
        f"{WRONG_HEAD} votes a wrong head in epochs 2-5",
        f"a top-up for {TOPPED_UP} in epoch {TOP_UP_EPOCH}",
    ]
    busy = {OFFLINE, LATE, WRONG_HEAD, SLASHED, TOPPED_UP}  # one fault per validator
    orphan = _pool_proposal(config, ORPHAN_EPOCH, pool, busy)
    if orphan is not None:
        scenario = dataclasses.replace(scenario, orphaned_slots=frozenset({orphan[0]}))
        config = dataclasses.replace(base, scenario=scenario)
        story.append(f"{orphan[1]}'s block at slot {orphan[0]} orphaned by a reorg")
    missed = _pool_proposal(config, MISSED_EPOCH, pool, busy)
    if missed is not None:
        scenario = dataclasses.replace(scenario, missed_slots=frozenset({missed[0]}))
        config = dataclasses.replace(base, scenario=scenario)
        story.append(f"{missed[1]} misses its proposal at slot {missed[0]}")
    committee = SimChain(config).sync_committee(0)
    seated = sorted({int(v) for v in committee} & set(pool) - busy) if committee is not None else []
    if seated:
        silent = seated[0]
        scenario = dataclasses.replace(scenario, sync_offline=(Offline((silent, silent)),))
        config = dataclasses.replace(base, scenario=scenario)
        story.append(f"sync-committee member {silent} does not sign")
    story.append(f"{SLASHED} slashed in epoch {SLASHING_EPOCH}")
    return config, story


@asynccontextmanager
async def demo_chain_server(
    *, validators: int = 256, slot_seconds: float = 0.5, seed: int = 1, preset: str = "minimal"
) -> AsyncIterator[DemoChain]:
    pool_size = max(8, min(64, validators // 8))
    pool = list(range(pool_size))
    base = SimConfig(
        validators=validators,
        preset=preset,
        slot_duration_ms=max(1, round(slot_seconds * 1000)),
        seed=seed,
    )
    config, story = scripted_config(validators, pool, base)
    chain = SimChain(config)
    server = SimServer(chain, auto_advance=True)
    await server.start()
    try:
        yield DemoChain(chain, server, pool, story)
    finally:
        await server.stop()
