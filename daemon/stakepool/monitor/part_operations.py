"""Slashings, exits and credential changes of pool validators, and their status changes.

Evidence comes from every source the monitor has — the event stream, the op pools polled each
epoch (a node refusing a topic, a reconnect gap), the canonical blocks as they are fetched, the
``slashed`` flag of the validator records — into one ``SlashingWatch``, which raises exactly one
critical alert per validator. The validator records also feed the ``StatusTracker`` (status,
effective balance, credentials).
"""

from __future__ import annotations

import asyncio

from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.beacon.models.events import EventData
from stakepool.beacon.models.operations import (
    AttesterSlashing,
    ProposerSlashing,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
)
from stakepool.chain.types import Epoch
from stakepool.monitor.context import MonitorContext
from stakepool.monitor.eventbase import OperationSource, SlashingSource
from stakepool.monitor.saved import MonitorSaved
from stakepool.monitor.slashing import SlashingWatch
from stakepool.monitor.status import StatusTracker, column_snapshots


class OperationsPart:
    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx
        self.slashing = SlashingWatch(ctx.ours, slots_per_epoch=ctx.spe)
        self.status = StatusTracker()

    def restore(self, saved: MonitorSaved) -> None:
        self.slashing = SlashingWatch(
            self.ctx.ours, slots_per_epoch=self.ctx.spe, state=saved.slashing
        )
        self.status = StatusTracker(saved.status)

    def scan(self, block: SignedBeaconBlock) -> None:
        """Slashings, exits and BLS changes in a newly fetched canonical block."""
        self.ctx.emit(self.slashing.on_block(block))

    async def poll_pools(self, epoch: Epoch) -> None:
        # Evidence that SSE missed (a node refusing the topic, a reconnect gap) is still found.
        ctx, watch = self.ctx, self.slashing
        attester = await ctx.client.op_pool.attester_slashings()
        for a in attester.data:
            ctx.emit(watch.on_attester_slashing(a, SlashingSource.POOL, epoch))
        proposer = await ctx.client.op_pool.proposer_slashings()
        for p in proposer.data:
            ctx.emit(watch.on_proposer_slashing(p, SlashingSource.POOL, epoch))
        exits = await ctx.client.op_pool.voluntary_exits()
        for x in exits.data:
            ctx.emit(watch.on_voluntary_exit(x, OperationSource.POOL))

    def on_stream(self, data: EventData, epoch: Epoch) -> None:
        """An operation the node announced on its event stream (before any block has it)."""
        ctx, watch = self.ctx, self.slashing
        if isinstance(data, AttesterSlashing):
            ctx.emit(watch.on_attester_slashing(data, SlashingSource.SSE, epoch))
        elif isinstance(data, ProposerSlashing):
            ctx.emit(watch.on_proposer_slashing(data, SlashingSource.SSE, epoch))
        elif isinstance(data, SignedVoluntaryExit):
            ctx.emit(watch.on_voluntary_exit(data, OperationSource.SSE))
        elif isinstance(data, SignedBLSToExecutionChange):
            ctx.emit(watch.on_bls_change(data, OperationSource.SSE, epoch))

    async def on_validators(self, epoch: int, validators: ValidatorColumns) -> None:
        # The snapshots (one object per validator) are built in a thread; the tracker, which
        # other tasks read, is only touched here on the loop.
        snapshots = await asyncio.to_thread(list, column_snapshots(validators, epoch))
        events = self.status.observe_snapshots(snapshots)
        # Only a slashed record can raise anything: the others are never made into models.
        slashed = validators.slashed
        for i in (i for i in range(len(slashed)) if slashed[i]):
            events.extend(self.slashing.on_validator(validators.info(i), epoch))
        self.ctx.emit(events)

    def on_finalized(self, finalized_epoch: int) -> None:
        self.ctx.emit(self.slashing.on_finalized(finalized_epoch))
