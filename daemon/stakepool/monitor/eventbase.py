"""Base of the monitor's events: severity, kinds, the field enums, deterministic ids.

``monitor.events`` defines the event classes on top of this and re-exports everything here.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from stakepool.chain.types import Epoch, Slot, ValidatorIndex


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventKind(enum.StrEnum):
    ATTESTATION_MISSED = "attestation_missed"
    ATTESTATION_STREAK = "attestation_streak"
    ATTESTATION_RECOVERED = "attestation_recovered"
    BLOCK_PROPOSED = "block_proposed"
    BLOCK_MISSED = "block_missed"
    BLOCK_ORPHANED = "block_orphaned"
    PROPOSAL_CHANGED = "proposal_changed"
    PROPOSER_MISMATCH = "proposer_mismatch"
    SYNC_PARTICIPATION_LOW = "sync_participation_low"
    STATUS_CHANGED = "status_changed"
    EFFECTIVE_BALANCE_CHANGED = "effective_balance_changed"
    CREDENTIALS_CHANGED = "credentials_changed"
    SLASHING_EVIDENCE = "slashing_evidence"
    VALIDATOR_SLASHED = "validator_slashed"
    SLASHING_STAGE = "slashing_stage"
    UNEXPECTED_EXIT = "unexpected_exit"
    BLS_CHANGE = "bls_change"
    DOPPELGANGER = "doppelganger"
    FINALITY_DELAYED = "finality_delayed"
    FINALITY_RESTORED = "finality_restored"
    INACTIVITY_LEAK_STARTED = "inactivity_leak_started"
    INACTIVITY_LEAK_ENDED = "inactivity_leak_ended"
    REORG = "reorg"
    VALIDATOR_CLIENT_UNREACHABLE = "validator_client_unreachable"
    VALIDATOR_CLIENT_REACHABLE = "validator_client_reachable"
    CROSS_CHECK_DISAGREEMENT = "cross_check_disagreement"
    REWARDS_IMPLAUSIBLE = "rewards_implausible"
    CROSS_CHECK_CORRECTED = "cross_check_corrected"
    CROSS_CHECK_CONFIRMED = "cross_check_confirmed"
    CROSS_CHECK_UNRESOLVED = "cross_check_unresolved"


class SlashingStage(enum.IntEnum):
    """Only moves forward."""

    EVIDENCE = 1
    """Seen on SSE or in an operation pool: not yet in a block."""
    INCLUDED = 2
    """In a canonical block, or the validator record says ``slashed``."""
    FINALIZED = 3


class SlashingSource(enum.StrEnum):
    SSE = "sse"
    POOL = "pool"
    BLOCK = "block"
    STATE = "state"
    """The ``slashed`` flag of the validator record."""


class OperationSource(enum.StrEnum):
    """Where a voluntary exit or BLS change was seen."""

    SSE = "sse"
    POOL = "pool"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Coordinates:
    epoch: Epoch
    slot: Slot | None
    validator_index: ValidatorIndex | None


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class MonitorEvent:
    """Base of every event; subclasses are frozen dataclasses."""

    __slots__ = ()
    kind: ClassVar[EventKind]
    severity: ClassVar[Severity]
    identity: ClassVar[tuple[str, ...] | None] = None
    """Fields that identify the event for ``event_id``; None means all fields."""

    def _fields(self) -> dict[str, Any]:
        # Every subclass is a dataclass; the base itself cannot be one (it has no fields).
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @property
    def event_id(self) -> str:
        fields = self._fields()
        names = self.identity if self.identity is not None else tuple(fields)
        body = json.dumps(
            [self.kind.value, [[n, _plain(fields[n])] for n in names]], separators=(",", ":")
        )
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def coordinates(self) -> Coordinates:
        return Coordinates(
            getattr(self, "epoch"),  # noqa: B009 - every subclass has it; the base declares none
            getattr(self, "slot", None),
            getattr(self, "validator_index", None),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {name: _plain(value) for name, value in self._fields().items()}
        out.update(kind=self.kind.value, severity=self.severity.value, event_id=self.event_id)
        return out
