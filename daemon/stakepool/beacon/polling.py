"""Synthesising ``head``/``block``/``finalized_checkpoint`` events from polled REST answers.

Pure bookkeeping (no I/O): ``EventStream`` feeds it the answers of ``headers/head`` and
``finality_checkpoints/head`` and the events it delivered from the stream, and it returns the
events polling should add. It never goes backwards: a polled head older than one already
delivered (a lagging node) and a finalized epoch not newer than the last are dropped.
"""

from __future__ import annotations

from collections.abc import Collection

from stakepool.beacon.dedupe import Deduper
from stakepool.beacon.models import (
    BeaconEvent,
    BlockEvent,
    Envelope,
    EventData,
    FinalityCheckpoints,
    FinalizedCheckpointEvent,
    HeaderInfo,
    HeadEvent,
    Topic,
)
from stakepool.chain.types import ZERO_ROOT

# Events built here use model_construct: the values are typed already, and the wire validators
# accept only the API's string encoding.
POLLABLE = frozenset({Topic.HEAD, Topic.BLOCK, Topic.FINALIZED_CHECKPOINT})


class PollState:
    def __init__(self, *, slots_per_epoch: int | None = None, dedupe_capacity: int = 4096) -> None:
        self.slots_per_epoch = slots_per_epoch
        self.deduper = Deduper(dedupe_capacity)
        self.head_slot: int | None = None
        self.finalized_epoch: int | None = None

    def admit(self, topic: Topic, data: EventData) -> bool:
        """Record an event about to be delivered; False if it was delivered before."""
        if not self.deduper.first_time(topic, data):
            return False
        if isinstance(data, HeadEvent):
            self.head_slot = max(self.head_slot or 0, data.slot)
        elif isinstance(data, FinalizedCheckpointEvent):
            self.finalized_epoch = max(self.finalized_epoch or 0, data.epoch)
        return True

    def from_head(
        self, header: Envelope[HeaderInfo], topics: Collection[Topic], node: str
    ) -> list[BeaconEvent]:
        info = header.data
        if self.head_slot is not None and info.slot < self.head_slot:
            return []
        out: list[BeaconEvent] = []
        if Topic.BLOCK in topics:
            block = BlockEvent.model_construct(
                slot=info.slot, block=info.root, execution_optimistic=header.execution_optimistic
            )
            if self.admit(Topic.BLOCK, block):
                out.append(BeaconEvent(Topic.BLOCK, block, node, polled=True))
        if Topic.HEAD in topics:
            head = HeadEvent.model_construct(
                slot=info.slot,
                block=info.root,
                state=info.header.message.state_root,
                epoch_transition=self._epoch_transition(info.slot),
                execution_optimistic=header.execution_optimistic,
            )
            if self.admit(Topic.HEAD, head):
                out.append(BeaconEvent(Topic.HEAD, head, node, polled=True))
        return out

    def _epoch_transition(self, slot: int) -> bool | None:
        if self.slots_per_epoch is None or self.head_slot is None:
            return None
        return slot // self.slots_per_epoch > self.head_slot // self.slots_per_epoch

    def from_finality(
        self, finality: Envelope[FinalityCheckpoints], topics: Collection[Topic], node: str
    ) -> list[BeaconEvent]:
        if Topic.FINALIZED_CHECKPOINT not in topics:
            return []
        checkpoint = finality.data.finalized
        if checkpoint.root == ZERO_ROOT:
            return []  # nothing finalized yet; the stream would not announce this either
        if self.finalized_epoch is not None and checkpoint.epoch <= self.finalized_epoch:
            return []
        event = FinalizedCheckpointEvent.model_construct(
            block=checkpoint.root,
            epoch=checkpoint.epoch,
            execution_optimistic=finality.execution_optimistic,
        )
        if not self.admit(Topic.FINALIZED_CHECKPOINT, event):
            return []
        return [BeaconEvent(Topic.FINALIZED_CHECKPOINT, event, node, polled=True)]
