"""Validator duties, liveness and rewards."""

from __future__ import annotations

from pydantic import StrictBool, field_validator

from stakepool.beacon.models.wire import (
    CommitteeIndexStr,
    EpochStr,
    GweiStr,
    LenientUInt64,
    PubkeyHex,
    SignedGweiStr,
    SlotStr,
    UInt64,
    ValidatorIndexStr,
    WireModel,
)
from stakepool.chain.types import Epoch, Gwei, ValidatorIndex


class ProposerDuty(WireModel):
    pubkey: PubkeyHex
    validator_index: ValidatorIndexStr
    slot: SlotStr


class AttesterDuty(WireModel):
    pubkey: PubkeyHex
    validator_index: ValidatorIndexStr
    committee_index: CommitteeIndexStr
    committee_length: UInt64
    committees_at_slot: UInt64
    validator_committee_index: UInt64
    """The validator's bit position within its committee."""
    slot: SlotStr


class SyncDuty(WireModel):
    pubkey: PubkeyHex
    validator_index: ValidatorIndexStr
    validator_sync_committee_indices: tuple[UInt64, ...]


class Liveness(WireModel):
    """One validator's liveness; ``epoch`` is only echoed by the legacy GET form."""

    index: ValidatorIndexStr
    is_live: StrictBool
    epoch: EpochStr | None = None


class LegacyLiveness(WireModel):
    """Legacy ``GET validator/liveness?indices=&epoch=``: some nodes send JSON numbers here."""

    index: LenientUInt64
    is_live: StrictBool
    epoch: LenientUInt64 | None = None

    def typed(self) -> Liveness:
        epoch = None if self.epoch is None else Epoch(self.epoch)
        # model_construct: the values are ints already (the validators only accept strings).
        return Liveness.model_construct(
            index=ValidatorIndex(self.index), is_live=self.is_live, epoch=epoch
        )


def _empty_is_absent(value: object) -> object:
    # Prysm once sent "inclusion_delay": "" after Altair, where the field has no meaning.
    return None if value == "" else value


class IdealAttestationReward(WireModel):
    effective_balance: GweiStr
    head: SignedGweiStr
    target: SignedGweiStr
    source: SignedGweiStr
    inclusion_delay: SignedGweiStr | None = None
    """Phase0 only."""
    inactivity: SignedGweiStr = Gwei(0)

    _inclusion = field_validator("inclusion_delay", mode="before")(_empty_is_absent)


class AttestationReward(WireModel):
    validator_index: ValidatorIndexStr
    head: SignedGweiStr
    target: SignedGweiStr
    source: SignedGweiStr
    inclusion_delay: SignedGweiStr | None = None
    """Phase0 only."""
    inactivity: SignedGweiStr = Gwei(0)

    _inclusion = field_validator("inclusion_delay", mode="before")(_empty_is_absent)

    @property
    def total(self) -> Gwei:
        return Gwei(
            self.head + self.target + self.source + (self.inclusion_delay or 0) + self.inactivity
        )


class AttestationRewards(WireModel):
    ideal_rewards: tuple[IdealAttestationReward, ...]
    total_rewards: tuple[AttestationReward, ...]

    def ideal_for(self, effective_balance: int) -> IdealAttestationReward | None:
        """Look an ideal row up by effective balance (never by position: coverage varies)."""
        return next(
            (r for r in self.ideal_rewards if r.effective_balance == effective_balance), None
        )


class BlockRewards(WireModel):
    proposer_index: ValidatorIndexStr
    total: GweiStr
    attestations: GweiStr
    sync_aggregate: GweiStr
    proposer_slashings: GweiStr
    attester_slashings: GweiStr


class SyncCommitteeReward(WireModel):
    validator_index: ValidatorIndexStr
    reward: SignedGweiStr


__all__ = [
    "AttestationReward",
    "AttestationRewards",
    "AttesterDuty",
    "BlockRewards",
    "IdealAttestationReward",
    "LegacyLiveness",
    "Liveness",
    "ProposerDuty",
    "SyncCommitteeReward",
    "SyncDuty",
]
