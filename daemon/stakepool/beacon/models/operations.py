"""Block operations shared by blocks, the pools and the event stream."""

from __future__ import annotations

from stakepool.beacon.models.state import Checkpoint
from stakepool.beacon.models.wire import (
    AddressHex,
    BitsHex,
    Bytes32Hex,
    CommitteeIndexStr,
    EpochStr,
    GweiStr,
    PubkeyHex,
    RootHex,
    SignatureHex,
    SlotStr,
    UInt64,
    ValidatorIndexStr,
    WireModel,
)


class BeaconBlockHeader(WireModel):
    slot: SlotStr
    proposer_index: ValidatorIndexStr
    parent_root: RootHex
    state_root: RootHex
    body_root: RootHex


class SignedBeaconBlockHeader(WireModel):
    message: BeaconBlockHeader
    signature: SignatureHex


class AttestationData(WireModel):
    slot: SlotStr
    index: CommitteeIndexStr
    """The committee before Electra; always 0 from Electra on (``committee_bits`` says instead)."""
    beacon_block_root: RootHex
    source: Checkpoint
    target: Checkpoint


class Attestation(WireModel):
    aggregation_bits: BitsHex
    data: AttestationData
    signature: SignatureHex
    committee_bits: BitsHex | None = None
    """Electra and later; None before (then ``data.index`` is the committee)."""


class IndexedAttestation(WireModel):
    attesting_indices: tuple[ValidatorIndexStr, ...]
    data: AttestationData
    signature: SignatureHex


class AttesterSlashing(WireModel):
    attestation_1: IndexedAttestation
    attestation_2: IndexedAttestation

    @property
    def slashed_indices(self) -> frozenset[int]:
        """Validators in both attestations: the ones this evidence slashes."""
        return frozenset(self.attestation_1.attesting_indices) & frozenset(
            self.attestation_2.attesting_indices
        )


class ProposerSlashing(WireModel):
    signed_header_1: SignedBeaconBlockHeader
    signed_header_2: SignedBeaconBlockHeader


class VoluntaryExit(WireModel):
    epoch: EpochStr
    validator_index: ValidatorIndexStr


class SignedVoluntaryExit(WireModel):
    message: VoluntaryExit
    signature: SignatureHex


class BLSToExecutionChange(WireModel):
    validator_index: ValidatorIndexStr
    from_bls_pubkey: PubkeyHex
    to_execution_address: AddressHex


class SignedBLSToExecutionChange(WireModel):
    message: BLSToExecutionChange
    signature: SignatureHex


class SyncAggregate(WireModel):
    sync_committee_bits: BitsHex
    """A Bitvector[SYNC_COMMITTEE_SIZE]: bit ``i`` is sync-committee position ``i``."""
    sync_committee_signature: SignatureHex


class DepositData(WireModel):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    amount: GweiStr
    signature: SignatureHex


class Deposit(WireModel):
    data: DepositData


class Withdrawal(WireModel):
    index: UInt64
    validator_index: ValidatorIndexStr
    address: AddressHex
    amount: GweiStr


class DepositRequest(WireModel):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    amount: GweiStr
    signature: SignatureHex
    index: UInt64


class WithdrawalRequest(WireModel):
    source_address: AddressHex
    validator_pubkey: PubkeyHex
    amount: GweiStr
    """0 requests a full exit; otherwise a partial withdrawal of this many Gwei."""


class ConsolidationRequest(WireModel):
    source_address: AddressHex
    source_pubkey: PubkeyHex
    target_pubkey: PubkeyHex


class ExecutionRequests(WireModel):
    deposits: tuple[DepositRequest, ...] = ()
    withdrawals: tuple[WithdrawalRequest, ...] = ()
    consolidations: tuple[ConsolidationRequest, ...] = ()


__all__ = [
    "Attestation",
    "AttestationData",
    "AttesterSlashing",
    "BLSToExecutionChange",
    "BeaconBlockHeader",
    "ConsolidationRequest",
    "Deposit",
    "DepositData",
    "DepositRequest",
    "ExecutionRequests",
    "IndexedAttestation",
    "ProposerSlashing",
    "SignedBLSToExecutionChange",
    "SignedBeaconBlockHeader",
    "SignedVoluntaryExit",
    "SyncAggregate",
    "VoluntaryExit",
    "Withdrawal",
    "WithdrawalRequest",
]
