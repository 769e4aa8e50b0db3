"""Wire-shaped (JSON dict) builders for monitor tests: real ``stakepool.beacon.models`` objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from stakepool.beacon.models import (
    Attestation,
    AttesterDuty,
    AttesterSlashing,
    Checkpoint,
    HeaderInfo,
    ProposerSlashing,
    SignedBeaconBlock,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
    ValidatorInfo,
)
from stakepool.chain.bitfields import encode_bitlist, encode_bitvector

SIG = "0x" + "ab" * 96
PUBKEY = "0x" + "cd" * 48


def root(n: int) -> str:
    return "0x" + f"{n:064x}"


def checkpoint(epoch: int, r: int) -> Checkpoint:
    return Checkpoint.model_validate({"epoch": str(epoch), "root": root(r)})


def att_data(
    slot: int, head: int, source: tuple[int, int], target: tuple[int, int], index: int = 0
) -> dict[str, Any]:
    return {
        "slot": str(slot),
        "index": str(index),
        "beacon_block_root": root(head),
        "source": {"epoch": str(source[0]), "root": root(source[1])},
        "target": {"epoch": str(target[0]), "root": root(target[1])},
    }


def electra_attestation(
    data: dict[str, Any], committees: Sequence[tuple[int, Sequence[bool]]], max_committees: int = 64
) -> Attestation:
    """``committees``: (committee index, bits) in any order; concatenated ascending, as on chain."""
    ordered = sorted(committees)
    bits: list[bool] = [b for _, cb in ordered for b in cb]
    selected = {ci for ci, _ in ordered}
    return Attestation.model_validate(
        {
            "aggregation_bits": encode_bitlist(bits),
            "data": data,
            "signature": SIG,
            "committee_bits": encode_bitvector([i in selected for i in range(max_committees)]),
        }
    )


def phase0_attestation(data: dict[str, Any], bits: Sequence[bool]) -> Attestation:
    return Attestation.model_validate(
        {"aggregation_bits": encode_bitlist(bits), "data": data, "signature": SIG}
    )


def attester_duty(
    validator: int, slot: int, committee: int, length: int, position: int
) -> AttesterDuty:
    return AttesterDuty.model_validate(
        {
            "pubkey": PUBKEY,
            "validator_index": str(validator),
            "committee_index": str(committee),
            "committee_length": str(length),
            "committees_at_slot": "4",
            "validator_committee_index": str(position),
            "slot": str(slot),
        }
    )


def header_json(slot: int, proposer: int, parent: int = 0) -> dict[str, Any]:
    return {
        "message": {
            "slot": str(slot),
            "proposer_index": str(proposer),
            "parent_root": root(parent),
            "state_root": root(7),
            "body_root": root(slot + 1000),
        },
        "signature": SIG,
    }


def header_info(slot: int, proposer: int, r: int, canonical: bool) -> HeaderInfo:
    return HeaderInfo.model_validate(
        {"root": root(r), "canonical": canonical, "header": header_json(slot, proposer)}
    )


def wire(model: Any) -> Any:
    """A model back to its JSON wire shape: integers as decimal strings, as the API sends them."""

    def conv(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int):
            return str(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items() if x is not None}
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        return v

    return conv(model.model_dump(mode="python"))


def block(
    slot: int,
    proposer: int = 0,
    *,
    attestations: Iterable[Attestation] = (),
    sync_bits: str | None = None,
    **ops: Iterable[Any],
) -> SignedBeaconBlock:
    body: dict[str, Any] = {
        "attestations": [wire(a) for a in attestations],
        **{k: [wire(o) for o in v] for k, v in ops.items()},
    }
    if sync_bits is not None:
        body["sync_aggregate"] = {"sync_committee_bits": sync_bits, "sync_committee_signature": SIG}
    return SignedBeaconBlock.model_validate(
        {
            "message": {
                "slot": str(slot),
                "proposer_index": str(proposer),
                "parent_root": root(1),
                "state_root": root(2),
                "body": body,
            },
            "signature": SIG,
        }
    )


def attester_slashing(
    indices_1: Iterable[int], indices_2: Iterable[int], slot: int = 100
) -> AttesterSlashing:
    data = att_data(slot, 1, (2, 2), (3, 3))
    data2 = att_data(slot, 9, (2, 2), (3, 3))
    return AttesterSlashing.model_validate(
        {
            "attestation_1": {
                "attesting_indices": [str(i) for i in indices_1],
                "data": data,
                "signature": SIG,
            },
            "attestation_2": {
                "attesting_indices": [str(i) for i in indices_2],
                "data": data2,
                "signature": SIG,
            },
        }
    )


def proposer_slashing(proposer: int, slot: int = 100) -> ProposerSlashing:
    return ProposerSlashing.model_validate(
        {
            "signed_header_1": header_json(slot, proposer, 1),
            "signed_header_2": header_json(slot, proposer, 2),
        }
    )


def voluntary_exit(validator: int, epoch: int = 10) -> SignedVoluntaryExit:
    return SignedVoluntaryExit.model_validate(
        {"message": {"epoch": str(epoch), "validator_index": str(validator)}, "signature": SIG}
    )


def bls_change(validator: int, address: str = "0x" + "ee" * 20) -> SignedBLSToExecutionChange:
    return SignedBLSToExecutionChange.model_validate(
        {
            "message": {
                "validator_index": str(validator),
                "from_bls_pubkey": PUBKEY,
                "to_execution_address": address,
            },
            "signature": SIG,
        }
    )


FAR = str(2**64 - 1)


def validator_info(
    index: int,
    status: str = "active_ongoing",
    *,
    effective_balance: int = 32_000_000_000,
    slashed: bool = False,
    credentials: str = "0x01" + "00" * 11 + "ee" * 20,
    exit_epoch: str = FAR,
) -> ValidatorInfo:
    return ValidatorInfo.model_validate(
        {
            "index": str(index),
            "balance": str(effective_balance),
            "status": status,
            "validator": {
                "pubkey": PUBKEY,
                "withdrawal_credentials": credentials,
                "effective_balance": str(effective_balance),
                "slashed": slashed,
                "activation_eligibility_epoch": "0",
                "activation_epoch": "0",
                "exit_epoch": exit_epoch,
                "withdrawable_epoch": FAR,
            },
        }
    )
