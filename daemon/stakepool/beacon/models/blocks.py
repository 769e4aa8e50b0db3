"""Headers and blocks (full and blinded), as much of them as a monitor reads.

One body model serves every fork: fields a fork lacks default to empty or None, and fields we do
not read (transactions, randao, KZG commitments …) are ignored.
"""

from __future__ import annotations

from pydantic import StrictBool

from stakepool.beacon.models.operations import (
    Attestation,
    AttesterSlashing,
    Deposit,
    ExecutionRequests,
    ProposerSlashing,
    SignedBeaconBlockHeader,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
    SyncAggregate,
    Withdrawal,
)
from stakepool.beacon.models.wire import (
    AddressHex,
    HexBytes,
    RootHex,
    SignatureHex,
    SlotStr,
    UInt64,
    ValidatorIndexStr,
    WeiStr,
    WireModel,
)
from stakepool.chain.types import Root, Slot, ValidatorIndex


class HeaderInfo(WireModel):
    """One entry of ``headers/{id}`` or ``headers?slot=``."""

    root: RootHex
    canonical: StrictBool
    header: SignedBeaconBlockHeader

    @property
    def slot(self) -> Slot:
        return self.header.message.slot

    @property
    def proposer_index(self) -> ValidatorIndex:
        return self.header.message.proposer_index


class ExecutionPayloadSummary(WireModel):
    """What a monitor reads of ``execution_payload`` or ``execution_payload_header``."""

    fee_recipient: AddressHex
    block_number: UInt64
    block_hash: RootHex
    timestamp: UInt64 | None = None
    gas_limit: UInt64 | None = None
    gas_used: UInt64 | None = None
    base_fee_per_gas: WeiStr | None = None
    withdrawals: tuple[Withdrawal, ...] | None = None
    """Full blocks only (Capella+); a blinded block has ``withdrawals_root`` instead."""
    withdrawals_root: RootHex | None = None


class BeaconBlockBody(WireModel):
    graffiti: HexBytes | None = None
    proposer_slashings: tuple[ProposerSlashing, ...] = ()
    attester_slashings: tuple[AttesterSlashing, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    deposits: tuple[Deposit, ...] = ()
    voluntary_exits: tuple[SignedVoluntaryExit, ...] = ()
    sync_aggregate: SyncAggregate | None = None
    """Altair and later."""
    execution_payload: ExecutionPayloadSummary | None = None
    execution_payload_header: ExecutionPayloadSummary | None = None
    bls_to_execution_changes: tuple[SignedBLSToExecutionChange, ...] = ()
    execution_requests: ExecutionRequests | None = None
    """Electra and later."""

    @property
    def payload(self) -> ExecutionPayloadSummary | None:
        """The execution payload of a full block or the header of a blinded one (Bellatrix+)."""
        return self.execution_payload or self.execution_payload_header


class BeaconBlock(WireModel):
    slot: SlotStr
    proposer_index: ValidatorIndexStr
    parent_root: RootHex
    state_root: RootHex
    body: BeaconBlockBody


class SignedBeaconBlock(WireModel):
    message: BeaconBlock
    signature: SignatureHex

    @property
    def slot(self) -> Slot:
        return self.message.slot

    @property
    def parent_root(self) -> Root:
        return self.message.parent_root


__all__ = [
    "BeaconBlock",
    "BeaconBlockBody",
    "ExecutionPayloadSummary",
    "HeaderInfo",
    "SignedBeaconBlock",
]
