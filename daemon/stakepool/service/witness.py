"""A second beacon node as a witness (``[beacon] cross_check = true``).

Each epoch the ledger settles, the witness reads the pool's balances at the end of that epoch and
of the one before from the first configured node (the primary) and from the second (the witness),
each through a client pinned to that node (no failover: the point is two independent answers),
and compares the balance changes and the attestation verdicts (the rewards endpoint's head,
target and source rewards, when both nodes serve it) (``rewards/crosscheck``). A disagreement is a
``cross_check_disagreement`` event (``monitor/daemon_events``: outbox → MQTT, log line, the web
page's warnings) naming the nodes, the epoch and the validators, a ``CrossCheckDisagreement`` fact
on the bus, and the ``stakepool_cross_check_*`` metrics (alert ``StakepoolCrossCheckDisagreement``). The ledger keeps
the primary's answer until finality decides (``witness_finality``: the epoch's rows corrected
from the witness when the primary is shown wrong, before they become final). An epoch the nodes
cannot both answer for (pruned state, a node down) is counted ``unchecked``, never a
disagreement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from prometheus_client import CollectorRegistry

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.bus import EventBus
from stakepool.chain.types import Epoch
from stakepool.config import Settings
from stakepool.ledger.facts import EpochInputSettled
from stakepool.monitor.daemon_events import CrossCheckDisagreed
from stakepool.publish.crosscheck_metrics import CrossCheckMetrics
from stakepool.rewards.crosscheck import (
    CrossCheckDisagreement,
    VoteDisagreement,
    Votes,
    compare,
    compare_votes,
)
from stakepool.service.clients import beacon_client
from stakepool.service.event_sink import EventSink
from stakepool.service.money import MoneyPath
from stakepool.service.witness_finality import Correct, FinalityJudge, Pending

log = structlog.get_logger("stakepool.witness")

QUEUE_EPOCHS = 64
"""Settled epochs waiting for their check; beyond it an epoch is counted unchecked."""


class Witness:
    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        registry: CollectorRegistry,
        events: EventSink,
        correct: Correct,
    ) -> None:
        beacon = settings.beacon
        self.primary_url, self.witness_url = beacon.urls[0], beacon.urls[1]

        # Each pinned to its node: a witness that failed over to the primary would prove nothing.
        self.primary = beacon_client(settings, [self.primary_url])
        self.witness = beacon_client(settings, [self.witness_url])
        self.bus = bus
        self.events = events
        self.metrics = CrossCheckMetrics(registry, self.primary_url, self.witness_url)
        self.queue: asyncio.Queue[tuple[int, list[int]]] = asyncio.Queue(QUEUE_EPOCHS)
        self._reported: set[int] = set()
        """Epochs a disagreement was raised about: never checked again (a correction settles
        them again; that is not a new fact)."""
        self.judge = FinalityJudge(
            (self.primary_url, self.primary),
            (self.witness_url, self.witness),
            events,
            correct,
            self.metrics.resolved,
        )
        bus.subscribe(EpochInputSettled, self.on_settled)

    async def start(self) -> None:
        """The disagreements still pending from the last run, resolved at their finality."""
        await self.judge.restore()
        self._reported.update(self.judge.pending)

    async def resolve(self, finalized_epoch: int) -> None:
        """``MoneyPath.before_finalize``: finality decides the pending disagreements."""
        await self.judge.resolve(finalized_epoch)

    async def close(self) -> None:
        await self.primary.close()
        await self.witness.close()

    def on_settled(self, fact: EpochInputSettled) -> None:
        if fact.input.epoch in self._reported:
            return
        indices = [v.validator_index for v in fact.input.validators]
        try:
            self.queue.put_nowait((fact.input.epoch, indices))
        except asyncio.QueueFull:
            self.metrics.checked(fact.input.epoch, agree=None)

    async def run(self) -> None:
        """A task: check each settled epoch in turn, until cancelled."""
        while True:
            epoch, indices = await self.queue.get()
            await self.check(epoch, indices)

    async def _balances(
        self, client: BeaconClient, slot: int, indices: list[int]
    ) -> dict[int, int]:
        answer = await client.state.balance_columns(slot, indices)
        return dict(zip(answer.data.index, answer.data.balance, strict=True))

    async def _votes(
        self, client: BeaconClient, epoch: int, indices: list[int]
    ) -> dict[int, Votes] | None:
        answer = await client.rewards.attestation_columns(epoch, indices)
        if answer is None:
            return None
        c = answer.data
        return dict(
            zip(c.validator_index, zip(c.head, c.target, c.source, strict=True), strict=True)
        )

    async def _vote_check(self, epoch: int, indices: list[int]) -> tuple[VoteDisagreement, ...]:
        """Both nodes' attestation verdicts; nothing when either cannot tell (no rewards
        endpoint, state pruned): a verdict one node lacks is not a disagreement."""
        try:
            primary = await self._votes(self.primary, epoch, indices)
            witness = await self._votes(self.witness, epoch, indices)
        except BeaconError as exc:
            log.info("cross_check_votes_unchecked", epoch=epoch, error=str(exc))
            return ()
        if primary is None or witness is None:
            return ()
        return compare_votes(indices, primary, witness)

    async def check(self, epoch: int, indices: list[int]) -> CrossCheckDisagreement | None:
        if epoch < 1 or not indices:
            return None
        try:
            spe = await self.primary.node.slots_per_epoch()
            before, after = epoch * spe - 1, (epoch + 1) * spe - 1
            primary = (
                await self._balances(self.primary, before, indices),
                await self._balances(self.primary, after, indices),
            )
            witness = (
                await self._balances(self.witness, before, indices),
                await self._balances(self.witness, after, indices),
            )
        except BeaconError as exc:
            log.info("cross_check_unchecked", epoch=epoch, error=str(exc))
            self.metrics.checked(epoch, agree=None)
            return None
        differ = compare(indices, primary, witness)
        votes = await self._vote_check(epoch, indices)
        if not (differ or votes) or epoch in self._reported:
            self.metrics.checked(epoch, agree=not (differ or votes))
            return None
        self._reported.add(epoch)
        self.metrics.checked(epoch, agree=False)
        fact = CrossCheckDisagreement(epoch, self.primary_url, self.witness_url, differ, votes)
        if differ:  # money at stake: finality decides, the disagreement kept until then
            pending = Pending(
                tuple(indices),
                tuple(d.validator_index for d in differ),
                {d.validator_index: d.primary_delta_gwei for d in differ},
            )
            await self.judge.remember(epoch, pending, disagreed_event(fact))
        else:
            await self.events.emit([disagreed_event(fact)])
        self.bus.publish(fact)
        return fact


def _gwei(amount: int | None) -> str | None:
    return None if amount is None else str(amount)


def disagreed_event(fact: CrossCheckDisagreement) -> CrossCheckDisagreed:
    """The typed event of a disagreement (amounts as decimal strings of Gwei)."""
    return CrossCheckDisagreed(
        epoch=Epoch(fact.epoch),
        primary=fact.primary,
        witness=fact.witness,
        validators=tuple(d.validator_index for d in fact.validators),
        primary_delta_gwei=tuple(_gwei(d.primary_delta_gwei) for d in fact.validators),
        witness_delta_gwei=tuple(_gwei(d.witness_delta_gwei) for d in fact.validators),
        vote_validators=tuple(v.validator_index for v in fact.votes),
        primary_votes=tuple(v.primary for v in fact.votes),
        witness_votes=tuple(v.witness for v in fact.votes),
    )


@contextlib.asynccontextmanager
async def witness_running(
    settings: Settings,
    bus: EventBus,
    registry: CollectorRegistry,
    events: EventSink,
    money: MoneyPath,
) -> AsyncIterator[Witness | None]:
    """The witness and its task while the daemon runs (None without ``cross_check``)."""
    if not settings.beacon.cross_check:
        yield None
        return
    witness = Witness(settings, bus, registry, events, money.correct_epoch)
    await witness.start()
    money.before_finalize = witness.resolve
    task = asyncio.create_task(witness.run(), name="cross_check")
    try:
        yield witness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await witness.close()
