"""Naming a block (deterministic roots) and writing its Electra JSON."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.bits import bitvector_hex
from stakepool.sim.params import SimParams
from stakepool.sim.records import BlockRecord, BlockRewards, SyncRecord
from stakepool.sim.scenario import SimScenario
from stakepool.sim.shuffling import EpochCommittees
from stakepool.sim.state import BeaconState

INFINITY_SIGNATURE = "0xc0" + "00" * 95
ZERO_HASH = "0x" + "00" * 32


class ChainView(Protocol):
    """What block production needs from the chain around it."""

    params: SimParams
    scenario: SimScenario
    genesis_time: int

    def committees(self, epoch: int) -> EpochCommittees: ...

    def block_root_at_slot(self, slot: int) -> str: ...

    def block_root_at_epoch(self, epoch: int) -> str: ...

    def sync_offline(self, epoch: int) -> npt.NDArray[np.bool_]: ...


def genesis_block(view: ChainView, s: BeaconState) -> BlockRecord:
    """The block at slot 0: no operations; ``s`` becomes its post-state."""
    seats = s.current_sync_committee
    bits = np.zeros(len(seats), dtype=np.bool_)
    return assemble_block(
        view,
        s,
        proposer=0,
        parent_root=ZERO_HASH,
        branch="genesis",
        withdrawals_json=[],
        included={"proposer": [], "attester": []},
        exits=[],
        attestations=[],
        deposits_json=[],
        bits=bits,
        rewards=BlockRewards(0, 0, 0, 0, 0),
        sync=SyncRecord(0, seats, bits),
    )


def assemble_block(
    view: ChainView,
    s: BeaconState,
    *,
    proposer: int,
    parent_root: str,
    branch: str,
    withdrawals_json: list[dict[str, str]],
    included: dict[str, list[dict[str, Any]]],
    exits: list[dict[str, Any]],
    attestations: list[dict[str, Any]],
    deposits_json: list[dict[str, str]],
    bits: npt.NDArray[np.bool_],
    rewards: BlockRewards,
    sync: SyncRecord,
) -> BlockRecord:
    """Name the block (deterministic roots) and write its JSON; updates ``s``'s latest block."""
    p = view.params
    slot = s.slot
    state_root = ids.digest("state", slot, parent_root, proposer, branch)
    body_root = ids.digest("body", slot, parent_root, proposer, branch)
    root = ids.digest("block", slot, proposer, parent_root, state_root, body_root)
    block_number = s.latest_block_number + 1
    block_hash = ids.digest("el-block", slot, parent_root, branch)
    timestamp = view.genesis_time + slot * p.slot_duration_ms // 1000
    common_payload = {
        "parent_hash": s.latest_block_hash,
        "fee_recipient": ids.address(proposer),
        "state_root": ids.digest("el-state", block_hash),
        "receipts_root": ids.digest("el-receipts", block_hash),
        "logs_bloom": "0x" + "00" * 256,
        "prev_randao": ids.digest("randao", slot, parent_root),
        "block_number": str(block_number),
        "gas_limit": "36000000",
        "gas_used": "0",
        "timestamp": str(timestamp),
        "extra_data": "0x",
        "base_fee_per_gas": "7",
        "blob_gas_used": "0",
        "excess_blob_gas": "0",
        "block_hash": block_hash,
    }
    payload = {**common_payload, "transactions": [], "withdrawals": withdrawals_json}
    header = {
        **common_payload,
        "transactions_root": ids.digest("el-txs", block_hash),
        "withdrawals_root": ids.digest("el-withdrawals", block_hash),
    }
    sync_signature = ids.signature("sync", slot, parent_root) if bits.any() else INFINITY_SIGNATURE
    body = {
        "randao_reveal": ids.signature("randao", slot, proposer),
        "eth1_data": {
            "deposit_root": ids.digest("eth1-deposit-root"),
            "deposit_count": "0",
            "block_hash": ZERO_HASH,
        },
        "graffiti": "0x" + b"stakepool-sim".hex().ljust(64, "0"),
        "proposer_slashings": included["proposer"],
        "attester_slashings": included["attester"],
        "attestations": attestations,
        "deposits": [],
        "voluntary_exits": exits,
        "sync_aggregate": {
            "sync_committee_bits": bitvector_hex(bits),
            "sync_committee_signature": sync_signature,
        },
        "bls_to_execution_changes": [],
        "blob_kzg_commitments": [],
        "execution_requests": {"deposits": deposits_json, "withdrawals": [], "consolidations": []},
    }
    s.latest_block_root = root
    s.latest_block_slot = slot
    s.latest_block_number = block_number
    s.latest_block_hash = block_hash
    s.state_root = state_root
    return BlockRecord(
        slot=slot,
        root=root,
        parent_root=parent_root,
        state_root=state_root,
        body_root=body_root,
        proposer_index=proposer,
        body=body,
        payload=payload,
        payload_header=header,
        signature=ids.signature("block", root),
        rewards=rewards,
        sync=sync,
        slashed=(),
        initial_penalties={},
    )
