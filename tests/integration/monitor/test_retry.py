"""An epoch whose attestations could not be evaluated (the node failed) is evaluated later, in
order, so the streaks stay exact; one that keeps failing is given up after a bounded number of
tries, and the streaks do not count across it.

The fault is switched by the observer as each epoch's digest is told, so which epochs fail is
exact: the blocks route answers 500 while the chosen epochs are processed.
"""

from __future__ import annotations

import asyncio

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.events import (
    AttestationMissed,
    AttestationStreak,
    BlockMissed,
    BlockProposed,
)
from stakepool.monitor.part_attestations import ATTESTATION_ATTEMPTS
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import Offline, SimScenario
from stakepool.sim.server import SimServer
from tests.integration.listening import listen
from tests.integration.monitor.test_service import Recorder
from tests.integration.simkit import HaltingSimServer

POOL = range(8)
OFFLINE = 1
BLOCK_ROUTES = ("getBlockV2", "getBlindedBlock")


class FaultSwitch(Recorder):
    """``routes`` (the blocks) fail while epochs in ``failing`` are processed."""

    def __init__(
        self, sim: SimServer, failing: range, routes: tuple[str, ...] = BLOCK_ROUTES
    ) -> None:
        super().__init__()
        self.sim = sim
        self.failing = failing
        self.routes = routes

        self.digests_told_before: dict[int, int | None] = {}
        """Event (by id) → the epoch of the last digest told before it."""

    def monitor_event(self, event: MonitorEvent) -> None:
        super().monitor_event(event)
        self.digests_told_before[id(event)] = self.digests[-1].epoch if self.digests else None

    def duties(self, report: EpochDuties) -> None:
        super().duties(report)
        for route in self.routes:
            if report.epoch + 1 in self.failing:
                self.sim.faults.set(route, "server_error")
            else:
                self.sim.faults.clear(route)


async def _run(
    failing: range,
    epochs: int,
    *,
    history_epochs: int = 8,
    slot_ms: int = 100,
    routes: tuple[str, ...] = BLOCK_ROUTES,
) -> FaultSwitch:
    chain = SimChain(
        SimConfig(
            validators=64,
            preset="minimal",
            slot_duration_ms=slot_ms,
            seed=11,
            scenario=SimScenario(offline=(Offline((OFFLINE, OFFLINE)),)),
            history_epochs=history_epochs,
        )
    )
    async with SimServer(chain, auto_advance=True) as sim:
        rec = FaultSwitch(sim, failing, routes)
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 0},
            pool={"validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
        )
        code = await asyncio.wait_for(
            run_daemon(settings, listeners=[listen(rec)], max_epochs=epochs, configure_logs=False),
            40,
        )
    assert code == 0
    return rec


async def test_a_failed_epoch_is_evaluated_at_the_next_one_and_the_streak_is_exact() -> None:
    rec = await _run(range(3, 4), 6)
    first = rec.digests[0].epoch
    assert first <= 1
    by_epoch = {int(d.epoch): d for d in rec.digests}
    assert "blocks" in by_epoch[3].failed
    assert by_epoch[3].attestations is None
    assert by_epoch[4].attestations is not None
    assert by_epoch[4].attestations.epoch == 3
    missed = [e for e in rec.events if isinstance(e, AttestationMissed)]
    evaluated = list(range(max(first - 1, 0), rec.digests[-1].epoch))
    # Epoch 2 (judged late, at epoch 4) is there, once, in order, and the streak never broke.
    assert [(e.epoch, e.streak) for e in missed] == [(k, n + 1) for n, k in enumerate(evaluated)]
    streaks = [e for e in rec.events if isinstance(e, AttestationStreak)]
    assert len(streaks) == 1


async def test_a_retried_epoch_is_judged_after_its_first_state_is_pruned() -> None:
    # A node that keeps only the last two epochs of states (stock Lodestar prunes behind its
    # finalized checkpoint): when epoch 2 is retried at 4, the state at its first slot (its
    # attestations' source checkpoint) is gone; the value read at epoch 2's own close stands in.
    rec = await _run(range(3, 4), 6, history_epochs=2, slot_ms=300)
    by_epoch = {int(d.epoch): d for d in rec.digests}
    assert "blocks" in by_epoch[3].failed
    assert by_epoch[4].attestations is not None
    assert by_epoch[4].attestations.epoch == 3
    assert not by_epoch[4].failed, by_epoch[4].failed
    missed = [e.epoch for e in rec.events if isinstance(e, AttestationMissed)]
    assert {2, 3} <= set(missed), missed


async def test_an_epoch_failing_too_long_is_given_up_and_breaks_the_streak() -> None:
    # Epochs 3..5 fail: epoch 2's attestations are tried at 3, 4 and 5, then given up.
    rec = await _run(range(3, 3 + ATTESTATION_ATTEMPTS), 8)
    first = rec.digests[0].epoch
    assert first <= 1
    missed = [(e.epoch, e.streak) for e in rec.events if isinstance(e, AttestationMissed)]
    before = [(k, n + 1) for n, k in enumerate(range(max(first - 1, 0), 2))]
    # Epoch 2 is lost; epochs 3.. are evaluated once the node answers, streak counted afresh.
    after = [(k, n + 1) for n, k in enumerate(range(3, rec.digests[-1].epoch))]
    assert missed == before + after
    streak_epochs = [e.epoch for e in rec.events if isinstance(e, AttestationStreak)]
    assert streak_epochs == [k for k, n in before + after if n == 2]


async def test_proposals_a_close_could_not_judge_are_told_before_the_next_close() -> None:
    """``headers?slot=`` fails while epoch 3 closes (a stalled node): its proposals are judged
    again a slot after that close, once the node answers, and told then (before the fix: never,
    no block_proposed/block_missed event and no miss on the ledger row; then: at the next close,
    an epoch later)."""
    rec = await _run(range(3, 4), 6, routes=("getBlockHeaders",))
    by_epoch = {int(d.epoch): d for d in rec.digests}
    assert "proposals" in by_epoch[3].failed
    assert not by_epoch[3].proposals_judged
    assert by_epoch[3].pending == (3,)
    assert by_epoch[4].pending == ()
    assert by_epoch[4].earlier_proposals == ()  # judged already, between the closes
    slots = range(3 * 8, 4 * 8)
    told = [
        e for e in rec.events if isinstance(e, (BlockProposed, BlockMissed)) and e.slot in slots
    ]
    assert told  # the scenario gives the pool a proposal in epoch 3
    # Told while the digest of epoch 3 was the last one out, not with epoch 4's.
    assert {rec.digests_told_before[id(e)] for e in told} == {3}


async def test_the_last_close_before_the_chain_halts_is_judged_when_the_node_answers() -> None:
    """The chain halts right after epoch 3 closes, and that close could not judge its proposals
    (the node failed ``headers?slot=`` throughout): no close will ever come again, yet the
    pool's block of epoch 3 is told once the node answers (the reliability suite lost such a
    ``block_proposed`` event about one run in three before)."""
    chain = SimChain(
        SimConfig(
            validators=64,
            preset="minimal",
            slot_duration_ms=100,
            seed=11,
            scenario=SimScenario(offline=(Offline((OFFLINE, OFFLINE)),)),
        )
    )
    async with HaltingSimServer(chain, halt_slot=4 * 8) as sim:
        rec = FaultSwitch(sim, range(3, 4), ("getBlockHeaders",))
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 0},
            pool={"validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
        )
        stop = asyncio.Event()
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, listeners=[listen(rec)], configure_logs=False)
        )
        slots = range(3 * 8, 4 * 8)

        def told() -> list[int]:
            return sorted(
                e.slot
                for e in rec.events
                if isinstance(e, (BlockProposed, BlockMissed)) and e.slot in slots
            )

        try:
            for _ in range(300):  # 30 s at most: the halt comes at 3.2 s, the retry a slot later
                if told() or daemon.done():
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            code = await asyncio.wait_for(daemon, 20)
    assert code == 0
    by_epoch = {int(d.epoch): d for d in rec.digests}
    assert max(by_epoch) == 3  # no close after the halt
    assert "proposals" in by_epoch[3].failed
    assert told(), "the proposals of the last epoch before the halt were never told"
