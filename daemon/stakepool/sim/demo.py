"""The chain behind ``stakepool demo``: a small network with a pool that sees a bit of everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
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


@dataclass(slots=True)
class DemoChain:
    chain: SimChain
    server: SimServer
    pool: list[int]

    @property
    def url(self) -> str:
        return self.server.url

    def describe(self) -> str:
        p = self.chain.params
        return (
            f"simulated beacon node at {self.url}: {self.chain.validator_count} validators, "
            f"{p.slots_per_epoch} slots of {p.slot_duration_ms} ms per epoch; pool = validators "
            f"{self.pool[0]}..{self.pool[-1]} (one offline, one late, one slashed in epoch 6, "
            f"a top-up in epoch 3, an orphaned block in epoch 4)"
        )


def demo_scenario(validators: int, pool_size: int, slots_per_epoch: int) -> SimScenario:
    spe = slots_per_epoch
    outsiders = max(pool_size, validators - validators // 16)
    return SimScenario(
        offline=(Offline((1, 1)), Offline((outsiders, validators - 1))),
        late_votes=(LateVotes((2, 2), delay=2),),
        wrong_votes=(WrongVotes((3, 3), "head", epochs=(2, 5)),),
        missed_slots=frozenset({5 * spe + 3, 9 * spe + 1}),
        orphaned_slots=frozenset({4 * spe + 2}),
        slashings=(ScheduledSlashing("attester", (4,), 6 * spe + 1, 6 * spe + 3),),
        deposits=(ScheduledDeposit(5, 2_000_000_000, 3 * spe + 1),),
        compounding=((6, 7),),
    )


@asynccontextmanager
async def demo_chain_server(
    *, validators: int = 256, slot_seconds: float = 0.5, seed: int = 1, preset: str = "minimal"
) -> AsyncIterator[DemoChain]:
    pool_size = max(8, min(64, validators // 8))
    probe = SimConfig(validators=validators, preset=preset)
    spe = SimChain.slots_per_epoch_of(probe)
    config = SimConfig(
        validators=validators,
        preset=preset,
        slot_duration_ms=max(1, round(slot_seconds * 1000)),
        seed=seed,
        scenario=demo_scenario(validators, pool_size, spe),
    )
    chain = SimChain(config)
    server = SimServer(chain, auto_advance=True)
    await server.start()
    try:
        yield DemoChain(chain, server, list(range(pool_size)))
    finally:
        await server.stop()
