"""A small simulated chain with a bit of every scenario."""

from __future__ import annotations

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledDeposit,
    ScheduledExit,
    ScheduledSlashing,
    SimScenario,
    WrongVotes,
)

SPE = 8  # minimal preset


def busy_scenario() -> SimScenario:
    return SimScenario(
        offline=(Offline((0, 9)),),
        late_votes=(LateVotes((10, 14), delay=3),),
        wrong_votes=(WrongVotes((15, 19), "head"), WrongVotes((20, 24), "target")),
        missed_slots=frozenset({2 * SPE + 3}),
        orphaned_slots=frozenset({2 * SPE + 5}),
        slashings=(
            ScheduledSlashing(
                "attester", (40, 41), announce_slot=SPE + 2, include_slot=3 * SPE + 1
            ),
            ScheduledSlashing("proposer", (42,), announce_slot=SPE + 3, include_slot=3 * SPE + 2),
        ),
        deposits=(ScheduledDeposit(50, 3_000_000_000, 2 * SPE + 1),),
        exits=(ScheduledExit(45, announce_slot=SPE + 1, include_slot=2 * SPE + 6),),
        compounding=((60, 63),),
    )


def busy_chain(validators: int = 256, seed: int = 7) -> SimChain:
    return SimChain(
        SimConfig(
            validators=validators, seed=seed, scenario=busy_scenario(), genesis_time=1_700_000_000
        )
    )
