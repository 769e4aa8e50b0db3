"""Refuse a window whose balances the protocol cannot explain (``plausible`` holds the maths).

Before a settled window goes to the ledger, every pool validator's ``r_v(k)`` is held against the
protocol's bounds. What the bounds need and the window does not carry is read here: the sync
committee of ``k`` (seats) and the finality checkpoints at ``LAST(k)`` (an inactivity leak makes
penalties unbounded without the scores; a leak of ``L`` epochs is allowed ``L`` more epochs to
recover). The total active balance is bounded below by the pool's own active effective balance and
above by ``TOTAL_ETHER_MAX``.

Assumption, said plainly: an inactivity score left by a leak this daemon never saw (before it
started) is not allowed for; a validator recovering from one could be refused until it recovers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.explaining import Record
from stakepool.rewards.plausible import Bounds, ChainScale, settlement_bounds
from stakepool.rewards.types import ValidatorEpochReward
from stakepool.rewards.window import WindowFacts

log = structlog.get_logger(__name__)

TOTAL_ETHER_MAX = 2**27 * 10**9
"""134 M ETH in Gwei: more than all the ether there is (~120 M), so more than any stake."""


class ImplausibleSettlement(BeaconError):
    """The node's balances give a validator a change the protocol cannot make in one epoch."""

    def __init__(self, epoch: int, found: Sequence[Implausible]) -> None:
        shown = "; ".join(
            f"validator {f.validator}: {f.settlement} Gwei outside [{f.bounds.low}, {f.bounds.high}]"
            for f in found[:5]
        )
        super().__init__(
            "validator_balances",
            f"window {epoch} refused: balances the protocol cannot produce ({shown})",
        )
        self.epoch = epoch
        self.found = tuple(found)


@dataclass(frozen=True, slots=True)
class Implausible:
    validator: int
    settlement: int
    bounds: Bounds


class PlausibilityCheck:
    def __init__(self, client: BeaconClient, spec: ChainSpec) -> None:
        self.client = client
        self.spec = spec
        self._leak_until = -1
        """Up to this epoch a leak (seen by us) may still weigh on penalties."""

    async def implausible(
        self,
        epoch: int,
        end_id: str,
        facts: WindowFacts,
        start: Mapping[int, Record],
        rows: Sequence[ValidatorEpochReward],
    ) -> list[Implausible]:
        spec = self.spec
        leak = await self._leak_possible(epoch, end_id)
        seats = await self._seats(epoch, end_id)
        active = sum(
            r.effective_balance
            for r in start.values()
            if r.activation_epoch <= epoch - 1 < r.exit_epoch
        )
        scale = ChainScale(
            slots_per_epoch=spec.slots_per_epoch,
            effective_balance_increment=spec.effective_balance_increment,
            base_reward_factor=spec.base_reward_factor,
            sync_committee_size=spec.sync_committee_size,
            total_active_min=max(spec.effective_balance_increment, active),
            total_active_max=TOTAL_ETHER_MAX,
            slashing_quotient=spec.min_slashing_penalty_quotient(epoch),
        )
        proposers = {b.proposer for b in facts.blocks}
        # Pure, one check per pool validator: in a thread, so the event loop keeps its turns.
        return await asyncio.to_thread(
            _implausible_rows, scale, rows, start, seats=seats, proposers=proposers, leak=leak
        )

    async def _seats(self, epoch: int, end_id: str) -> Counter[int] | None:
        try:
            committee = await self.client.state.sync_committee(end_id, epoch)
        except BeaconError as exc:  # unknown: every validator may hold every seat
            log.info("plausibility_sync_committee_unknown", epoch=epoch, error=str(exc))
            return None
        return Counter(int(v) for v in committee.data.validators)

    async def _leak_possible(self, epoch: int, end_id: str) -> bool:
        try:
            checkpoints = await self.client.state.finality_checkpoints(end_id)
        except BeaconError as exc:
            log.info("plausibility_finality_unknown", epoch=epoch, error=str(exc))
            return True
        lag = (epoch - 1) - int(checkpoints.data.finalized.epoch)
        if lag > self.spec.min_epochs_to_inactivity_penalty:
            self._leak_until = max(self._leak_until, epoch + lag)
        return epoch <= self._leak_until


def _implausible_rows(
    scale: ChainScale,
    rows: Sequence[ValidatorEpochReward],
    start: Mapping[int, Record],
    *,
    seats: Counter[int] | None,
    proposers: set[int],
    leak: bool,
) -> list[Implausible]:
    found: list[Implausible] = []
    for row in rows:
        record = start.get(row.validator)
        bounds = settlement_bounds(
            scale,
            effective_balance=row.effective_balance_gwei,
            sync_seats=scale.sync_committee_size if seats is None else seats[row.validator],
            proposed=row.validator in proposers,
            slashed=record is None or record.slashed,
            leak_possible=leak,
        )
        if not bounds.admits(row.settlement_gwei):
            found.append(Implausible(row.validator, row.settlement_gwei, bounds))
    return found
