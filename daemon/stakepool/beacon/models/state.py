"""State-derived answers: validators, balances, checkpoints, committees, pending deposits."""

from __future__ import annotations

import enum

from pydantic import StrictBool

from stakepool.beacon.models.wire import (
    Bytes32Hex,
    CommitteeIndexStr,
    EpochStr,
    GweiStr,
    PubkeyHex,
    RootHex,
    SignatureHex,
    SlotStr,
    ValidatorIndexStr,
    WireModel,
)


class ValidatorStatus(enum.StrEnum):
    """The nine sub-statuses a response carries (the four groups are filter values only)."""

    PENDING_INITIALIZED = "pending_initialized"
    PENDING_QUEUED = "pending_queued"
    ACTIVE_ONGOING = "active_ongoing"
    ACTIVE_EXITING = "active_exiting"
    ACTIVE_SLASHED = "active_slashed"
    EXITED_UNSLASHED = "exited_unslashed"
    EXITED_SLASHED = "exited_slashed"
    WITHDRAWAL_POSSIBLE = "withdrawal_possible"
    WITHDRAWAL_DONE = "withdrawal_done"

    @property
    def group(self) -> str:
        """``pending`` | ``active`` | ``exited`` | ``withdrawal``."""
        return self.value.split("_", 1)[0]


STATUS_GROUPS: dict[str, tuple[ValidatorStatus, ...]] = {
    group: tuple(s for s in ValidatorStatus if s.group == group)
    for group in ("pending", "active", "exited", "withdrawal")
}


class ValidatorRecord(WireModel):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    effective_balance: GweiStr
    slashed: StrictBool
    activation_eligibility_epoch: EpochStr
    activation_epoch: EpochStr
    exit_epoch: EpochStr
    withdrawable_epoch: EpochStr


class ValidatorInfo(WireModel):
    index: ValidatorIndexStr
    balance: GweiStr
    status: ValidatorStatus
    validator: ValidatorRecord


class ValidatorBalance(WireModel):
    index: ValidatorIndexStr
    balance: GweiStr


class Checkpoint(WireModel):
    epoch: EpochStr
    root: RootHex


class StateRoot(WireModel):
    root: RootHex


class FinalityCheckpoints(WireModel):
    previous_justified: Checkpoint
    current_justified: Checkpoint
    finalized: Checkpoint


class Committee(WireModel):
    index: CommitteeIndexStr
    slot: SlotStr
    validators: tuple[ValidatorIndexStr, ...]
    """Ordered: the position is the bit position in ``aggregation_bits``."""


class SyncCommittee(WireModel):
    validators: tuple[ValidatorIndexStr, ...]
    """``validators[i]`` sits at sync-committee position ``i``; one validator may hold several."""
    validator_aggregates: tuple[tuple[ValidatorIndexStr, ...], ...]


class PendingDeposit(WireModel):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    amount: GweiStr
    signature: SignatureHex
    slot: SlotStr
    """0 marks legacy (Eth1 bridge) deposits and internally generated entries."""


class PendingConsolidation(WireModel):
    """Electra: ``source``'s balance (up to its EB) moves to ``target`` once ``source`` is
    withdrawable (``process_pending_consolidations``)."""

    source_index: ValidatorIndexStr
    target_index: ValidatorIndexStr


__all__ = [
    "STATUS_GROUPS",
    "Checkpoint",
    "Committee",
    "FinalityCheckpoints",
    "PendingConsolidation",
    "PendingDeposit",
    "SyncCommittee",
    "ValidatorBalance",
    "ValidatorInfo",
    "ValidatorRecord",
    "ValidatorStatus",
]
