"""De-duplication of events that may arrive twice: once from the stream, once from polling."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from stakepool.beacon.models import (
    BlockEvent,
    ChainReorgEvent,
    EventData,
    FinalizedCheckpointEvent,
    HeadEvent,
    Topic,
)


def event_key(topic: Topic, data: EventData) -> Hashable | None:
    """The identity of an event that polling can also produce; None for the others."""
    if topic is Topic.HEAD and isinstance(data, HeadEvent):
        return (topic, data.slot, data.block)
    if topic is Topic.BLOCK and isinstance(data, BlockEvent):
        return (topic, data.slot, data.block)
    if topic is Topic.FINALIZED_CHECKPOINT and isinstance(data, FinalizedCheckpointEvent):
        return (topic, data.epoch, data.block)
    if topic is Topic.CHAIN_REORG and isinstance(data, ChainReorgEvent):
        # Told by a stream and found again by a reorg scan (``reorg_scan``): once.
        return (topic, data.slot, data.old_head_block, data.new_head_block)
    return None


class Deduper:
    """Remembers the last ``capacity`` keys; ``first_time`` is True once per key."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be ≥ 1")
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, topic: Topic, data: EventData) -> bool:
        key = event_key(topic, data)
        if key is None:
            return True
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True
