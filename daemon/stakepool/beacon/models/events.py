"""Server-sent event payloads (the spec gives examples only; these are our own models).

Fields a *polled* (synthesised) event cannot know are optional: a stream event always has them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import StrictBool

from stakepool.beacon.models.operations import (
    AttesterSlashing,
    ProposerSlashing,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
)
from stakepool.beacon.models.wire import (
    EpochStr,
    RootHex,
    SlotStr,
    UInt64,
    WireModel,
)


class Topic(enum.StrEnum):
    HEAD = "head"
    BLOCK = "block"
    FINALIZED_CHECKPOINT = "finalized_checkpoint"
    CHAIN_REORG = "chain_reorg"
    ATTESTER_SLASHING = "attester_slashing"
    PROPOSER_SLASHING = "proposer_slashing"
    VOLUNTARY_EXIT = "voluntary_exit"
    BLS_TO_EXECUTION_CHANGE = "bls_to_execution_change"


class HeadEvent(WireModel):
    slot: SlotStr
    block: RootHex
    state: RootHex
    epoch_transition: StrictBool | None = None
    previous_duty_dependent_root: RootHex | None = None
    current_duty_dependent_root: RootHex | None = None
    execution_optimistic: StrictBool = False


class BlockEvent(WireModel):
    slot: SlotStr
    block: RootHex
    execution_optimistic: StrictBool = False


class FinalizedCheckpointEvent(WireModel):
    block: RootHex
    state: RootHex | None = None
    epoch: EpochStr
    execution_optimistic: StrictBool = False


class ChainReorgEvent(WireModel):
    slot: SlotStr
    depth: UInt64
    old_head_block: RootHex
    new_head_block: RootHex
    old_head_state: RootHex
    new_head_state: RootHex
    epoch: EpochStr
    execution_optimistic: StrictBool = False


EventData = (
    HeadEvent
    | BlockEvent
    | FinalizedCheckpointEvent
    | ChainReorgEvent
    | AttesterSlashing
    | ProposerSlashing
    | SignedVoluntaryExit
    | SignedBLSToExecutionChange
)

EVENT_MODELS: dict[Topic, type[EventData]] = {
    Topic.HEAD: HeadEvent,
    Topic.BLOCK: BlockEvent,
    Topic.FINALIZED_CHECKPOINT: FinalizedCheckpointEvent,
    Topic.CHAIN_REORG: ChainReorgEvent,
    Topic.ATTESTER_SLASHING: AttesterSlashing,
    Topic.PROPOSER_SLASHING: ProposerSlashing,
    Topic.VOLUNTARY_EXIT: SignedVoluntaryExit,
    Topic.BLS_TO_EXECUTION_CHANGE: SignedBLSToExecutionChange,
}


@dataclass(frozen=True, slots=True)
class BeaconEvent:
    """One typed event out of ``EventStream``."""

    topic: Topic
    data: EventData
    node: str
    """Base URL of the node it came from."""
    polled: bool = False
    """True when synthesised by the polling fallback rather than received on the stream."""


__all__ = [
    "EVENT_MODELS",
    "BeaconEvent",
    "BlockEvent",
    "ChainReorgEvent",
    "EventData",
    "FinalizedCheckpointEvent",
    "HeadEvent",
    "Topic",
]
