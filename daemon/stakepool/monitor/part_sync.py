"""Sync-committee signatures of pool members: seats per period, signatures per epoch.

Seats come from the sync duties once per period; the signatures from the canonical blocks' sync
aggregates (from slot 1: nobody signs the genesis block's empty aggregate). A member signing less
than ``sync_participation_low`` of its seats in an epoch raises ``sync_participation_low``. Each
epoch is counted once (``through``), so a redo after a restart counts nothing twice.
"""

from __future__ import annotations

from stakepool.chain.types import Epoch
from stakepool.monitor.context import MonitorContext
from stakepool.monitor.digest import SyncDigest
from stakepool.monitor.saved import MonitorSaved
from stakepool.monitor.sync import (
    Seats,
    SyncEpochTally,
    low_participation_events,
    seats_from_duties,
)


class SyncPart:
    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx
        self.seats: dict[int, Seats] = {}
        """Sync period → our seats."""
        self.through: Epoch | None = None
        """The last epoch whose sync signatures were counted."""

    def restore(self, saved: MonitorSaved) -> None:
        self.through = saved.sync_through

    async def run(self, epoch: Epoch) -> SyncDigest | None:
        ctx = self.ctx
        period = ctx.spec.sync_period(epoch)
        seats = self.seats.get(period)
        if seats is None:
            answer = await ctx.client.duties.sync(epoch, ctx.ours)
            seats = self.seats[period] = seats_from_duties(answer.data)
            self.seats = {p: s for p, s in self.seats.items() if p >= period - 1}
        if not seats:
            return None
        tally = SyncEpochTally(
            epoch, seats, slots_per_epoch=ctx.spe, committee_size=ctx.spec.sync_committee_size
        )
        # From slot 1: nobody signs the genesis block's (empty) sync aggregate.
        for block in ctx.blocks.blocks(max(ctx.start(epoch), 1), ctx.last(epoch)):
            tally.add_block(block)
        summary = tally.summary()
        low = low_participation_events(summary, ctx.thresholds.sync_participation_low)
        if self.through is None or epoch > self.through:  # else: a redo, counted already
            tallies = ctx.tallies
            tallies.set_sync_participation(
                {v: (p.signed, p.total) for v, p in summary.per_validator.items()}
            )
            for v, p in summary.per_validator.items():
                tallies.record_sync_signatures(v, signed=p.signed, missed=p.missed)
            self.through = epoch
            ctx.emit(low)
        return SyncDigest(
            epoch,
            summary.pool.signed,
            summary.pool.total,
            tuple(sorted(summary.per_validator)),
            tuple(e.validator_index for e in low),
        )
