"""The typed event vocabulary of the monitor (with its base types and thresholds re-exported).

Every monitor module returns instances of the frozen dataclasses below. Each has

* ``kind`` (an ``EventKind``, class-level) and ``severity`` (``info`` | ``warning`` | ``critical``);
* chain coordinates as fields: ``epoch`` always, ``slot`` and ``validator_index`` where they apply
  (``coordinates`` reads them uniformly, ``None`` when absent);
* ``event_id``: a sha256 of the kind and the event's identifying fields. The same event computed
  twice — after a restart, from another beacon node, from another source — has the same id, so a
  consumer (MQTT, a webhook) can deduplicate. By default every field identifies; a class narrows
  this with ``identity`` when extra fields are details that may legitimately differ between two
  sightings of the same fact (e.g. a slashing first seen on SSE or in the pool is one alert).

``to_dict`` gives a JSON-ready view (enums as their values) with ``kind``, ``severity`` and
``event_id`` included.
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.beacon.models import ChainReorgEvent
from stakepool.beacon.models.state import ValidatorStatus
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.monitor.daemon_events import DAEMON_EVENT_TYPES
from stakepool.monitor.eventbase import (
    Coordinates,
    EventKind,
    MonitorEvent,
    OperationSource,
    Severity,
    SlashingSource,
    SlashingStage,
)
from stakepool.monitor.thresholds import MonitorThresholds
from stakepool.monitor.verdicts import ProposalVerdict


@dataclass(frozen=True, slots=True, kw_only=True)
class AttestationMissed(MonitorEvent):
    """One attester duty with no inclusion in the canonical chain within its window."""

    kind = EventKind.ATTESTATION_MISSED
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    streak: int
    """Consecutive misses so far, this one included."""
    identity = ("validator_index", "epoch", "slot")


@dataclass(frozen=True, slots=True, kw_only=True)
class AttestationStreak(MonitorEvent):
    """Raised exactly once per streak, when it reaches the threshold."""

    kind = EventKind.ATTESTATION_STREAK
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    """The epoch of the miss that reached the threshold."""
    streak: int
    first_missed_epoch: Epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class AttestationRecovered(MonitorEvent):
    """An attestation was included again after a streak that had raised ``attestation_streak``."""

    kind = EventKind.ATTESTATION_RECOVERED
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    missed: int
    """Length of the streak that ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockProposed(MonitorEvent):
    kind = EventKind.BLOCK_PROPOSED
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    root: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockMissed(MonitorEvent):
    kind = EventKind.BLOCK_MISSED
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockOrphaned(MonitorEvent):
    kind = EventKind.BLOCK_ORPHANED
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    root: str
    """Our non-canonical block (the first one, if the node knows several)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalChanged(MonitorEvent):
    """A later look (a reorg, finality) changed a verdict already reported for this slot."""

    kind = EventKind.PROPOSAL_CHANGED
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    old: ProposalVerdict
    new: ProposalVerdict
    final: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposerMismatch(MonitorEvent):
    """The canonical block at our duty's slot has another proposer: reload proposer duties."""

    kind = EventKind.PROPOSER_MISMATCH
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    actual_proposer: ValidatorIndex


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncParticipationLow(MonitorEvent):
    kind = EventKind.SYNC_PARTICIPATION_LOW
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    signed: int
    """Seat-slots signed (a validator with two seats counts two per block)."""
    total: int
    """Seat-slots expected: seats × blocks in the epoch."""
    identity = ("validator_index", "epoch")
    """A re-count of the epoch (more blocks seen, a reorg) is the same alert."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged(MonitorEvent):
    kind = EventKind.STATUS_CHANGED
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    old: ValidatorStatus
    new: ValidatorStatus
    identity = ("validator_index", "old", "new")
    """A transition happens once per validator; the epoch we noticed it in may vary."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveBalanceChanged(MonitorEvent):
    kind = EventKind.EFFECTIVE_BALANCE_CHANGED
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    old: Gwei
    new: Gwei


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialsChanged(MonitorEvent):
    """The withdrawal credential prefix changed (0x00 → 0x01 after a BLS change, 0x01 → 0x02)."""

    kind = EventKind.CREDENTIALS_CHANGED
    severity = Severity.WARNING
    validator_index: ValidatorIndex
    epoch: Epoch
    old: str
    new: str
    identity = ("validator_index", "old", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlashingEvidence(MonitorEvent):
    """The one critical alert of a slashing first seen before inclusion (SSE or pool)."""

    kind = EventKind.SLASHING_EVIDENCE
    severity = Severity.CRITICAL
    validator_index: ValidatorIndex
    epoch: Epoch
    source: SlashingSource
    offence: str
    """``attester`` (double or surround vote) or ``proposer`` (two headers for one slot)."""
    identity = ("validator_index",)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorSlashed(MonitorEvent):
    """The one critical alert of a slashing first seen included (block or ``slashed`` flag)."""

    kind = EventKind.VALIDATOR_SLASHED
    severity = Severity.CRITICAL
    validator_index: ValidatorIndex
    epoch: Epoch
    source: SlashingSource
    offence: str
    """``attester``, ``proposer``, or ``unknown`` when only the validator record told us."""
    identity = ("validator_index",)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlashingStageReached(MonitorEvent):
    """A later stage of a slashing already alerted on (never the first stage)."""

    kind = EventKind.SLASHING_STAGE
    severity = Severity.INFO
    validator_index: ValidatorIndex
    epoch: Epoch
    stage: SlashingStage
    source: SlashingSource
    identity = ("validator_index", "stage")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedExit(MonitorEvent):
    """A voluntary exit for our validator that the operator did not declare."""

    kind = EventKind.UNEXPECTED_EXIT
    severity = Severity.CRITICAL
    validator_index: ValidatorIndex
    epoch: Epoch
    """The exit message's epoch."""
    source: OperationSource
    identity = ("validator_index",)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedBlsChange(MonitorEvent):
    """A BLS-to-execution change for our validator that the operator did not declare."""

    kind = EventKind.BLS_CHANGE
    severity = Severity.CRITICAL
    validator_index: ValidatorIndex
    epoch: Epoch
    """When it was seen."""
    to_execution_address: str
    source: OperationSource
    identity = ("validator_index", "to_execution_address")


@dataclass(frozen=True, slots=True, kw_only=True)
class DoppelgangerDetected(MonitorEvent):
    kind = EventKind.DOPPELGANGER
    severity = Severity.CRITICAL
    validator_index: ValidatorIndex
    epoch: Epoch
    """An epoch in which our client was silent but the network saw the key live."""
    identity = ("validator_index",)


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalityDelayed(MonitorEvent):
    kind = EventKind.FINALITY_DELAYED
    severity = Severity.WARNING
    epoch: Epoch
    finalized_epoch: Epoch
    delay: int
    identity = ("finalized_epoch",)
    """One episode per stalled finalized checkpoint."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalityRestored(MonitorEvent):
    kind = EventKind.FINALITY_RESTORED
    severity = Severity.INFO
    epoch: Epoch
    finalized_epoch: Epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class InactivityLeakStarted(MonitorEvent):
    kind = EventKind.INACTIVITY_LEAK_STARTED
    severity = Severity.CRITICAL
    epoch: Epoch
    finalized_epoch: Epoch
    identity = ("finalized_epoch",)


@dataclass(frozen=True, slots=True, kw_only=True)
class InactivityLeakEnded(MonitorEvent):
    kind = EventKind.INACTIVITY_LEAK_ENDED
    severity = Severity.INFO
    epoch: Epoch
    finalized_epoch: Epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainReorged(MonitorEvent):
    """The node's head moved to another branch (a ``chain_reorg`` stream event): chain-level, not
    about one validator. Whether our own blocks were dropped is told by ``block_orphaned``; this
    one lets a consumer see the reorg itself and re-read what it derived from the old branch."""

    kind = EventKind.REORG
    severity = Severity.INFO
    epoch: Epoch
    slot: Slot
    """The slot of the new head."""
    depth: int
    old_head_block: str
    new_head_block: str

    @classmethod
    def of(cls, reorg: ChainReorgEvent) -> ChainReorged:
        """Its id depends only on the node's report: the same reorg told by another node or
        after a restart has the same id."""
        return cls(
            epoch=reorg.epoch,
            slot=reorg.slot,
            depth=int(reorg.depth),
            old_head_block=str(reorg.old_head_block),
            new_head_block=str(reorg.new_head_block),
        )


EVENT_TYPES: tuple[type[MonitorEvent], ...] = (
    AttestationMissed,
    AttestationStreak,
    AttestationRecovered,
    BlockProposed,
    BlockMissed,
    BlockOrphaned,
    ProposalChanged,
    ProposerMismatch,
    SyncParticipationLow,
    StatusChanged,
    EffectiveBalanceChanged,
    CredentialsChanged,
    SlashingEvidence,
    ValidatorSlashed,
    SlashingStageReached,
    UnexpectedExit,
    UnexpectedBlsChange,
    DoppelgangerDetected,
    FinalityDelayed,
    FinalityRestored,
    InactivityLeakStarted,
    InactivityLeakEnded,
    ChainReorged,
    *DAEMON_EVENT_TYPES,
)
"""One class per ``EventKind`` (the daemon's own, about its sources: ``daemon_events``)."""

__all__ = [
    "EVENT_TYPES",
    "AttestationMissed",
    "AttestationRecovered",
    "AttestationStreak",
    "BlockMissed",
    "BlockOrphaned",
    "BlockProposed",
    "ChainReorged",
    "Coordinates",
    "CredentialsChanged",
    "DoppelgangerDetected",
    "EffectiveBalanceChanged",
    "EventKind",
    "FinalityDelayed",
    "FinalityRestored",
    "InactivityLeakEnded",
    "InactivityLeakStarted",
    "MonitorEvent",
    "MonitorThresholds",
    "OperationSource",
    "ProposalChanged",
    "ProposalVerdict",
    "ProposerMismatch",
    "Severity",
    "SlashingEvidence",
    "SlashingSource",
    "SlashingStage",
    "SlashingStageReached",
    "StatusChanged",
    "SyncParticipationLow",
    "UnexpectedBlsChange",
    "UnexpectedExit",
    "ValidatorSlashed",
]
