"""The simulated beacon state: numpy registry arrays plus the few scalars the maths needs.

States are treated as immutable snapshots once stored. A transition makes a shallow ``copy()``
and replaces (never writes into) every array it changes, so consecutive snapshots share the
arrays that did not change; that is what keeps a per-slot history of a 2M-validator chain cheap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from stakepool.sim.rewards import I64, U8, U64, Bools


@dataclass(frozen=True, slots=True)
class Checkpoint:
    epoch: int
    root: str

    def to_json(self) -> dict[str, str]:
        return {"epoch": str(self.epoch), "root": self.root}


@dataclass(frozen=True, slots=True)
class PendingDeposit:
    pubkey: str
    withdrawal_credentials: str
    amount: int
    signature: str
    slot: int
    validator_index: int
    """The validator this deposit credits: an existing one (a top-up) or, at or past
    ``BeaconState.registry_size``, the new validator it creates."""

    def to_json(self) -> dict[str, str]:
        return {
            "pubkey": self.pubkey,
            "withdrawal_credentials": self.withdrawal_credentials,
            "amount": str(self.amount),
            "signature": self.signature,
            "slot": str(self.slot),
        }


@dataclass(frozen=True, slots=True)
class PendingAggregate:
    """Votes of one slot with one attestation data, waiting in the pool for a block."""

    slot: int
    ready_slot: int
    """The first slot whose block may include it (slot + inclusion delay)."""
    beacon_block_root: str
    source: Checkpoint
    target: Checkpoint
    attesters: npt.NDArray[np.int64]

    def data_json(self) -> dict[str, Any]:
        return {
            "slot": str(self.slot),
            "index": "0",
            "beacon_block_root": self.beacon_block_root,
            "source": self.source.to_json(),
            "target": self.target.to_json(),
        }


@dataclass(frozen=True, slots=True)
class PoolOperation:
    """Slashing evidence or a voluntary exit in the operation pool until a block includes it."""

    kind: str
    """``attester``, ``proposer`` (slashings) or ``voluntary_exit``."""
    validators: tuple[int, ...]
    include_slot: int
    body: dict[str, Any] = field(hash=False, compare=False)


@dataclass(slots=True)
class BeaconState:
    slot: int
    latest_block_root: str
    latest_block_slot: int
    balance: I64
    effective_balance: I64
    slashed: Bools
    activation_eligibility_epoch: U64
    activation_epoch: U64
    exit_epoch: U64
    withdrawable_epoch: U64
    credential_prefix: U8
    previous_participation: U8
    current_participation: U8
    inactivity_scores: I64
    slashings: I64
    justification_bits: tuple[bool, bool, bool, bool]
    previous_justified: Checkpoint
    current_justified: Checkpoint
    finalized: Checkpoint
    next_withdrawal_index: int
    next_withdrawal_validator_index: int
    pending_deposits: tuple[PendingDeposit, ...]
    deposit_balance_to_consume: int
    exit_balance_to_consume: int
    earliest_exit_epoch: int
    current_sync_committee: npt.NDArray[np.int64]
    next_sync_committee: npt.NDArray[np.int64]
    proposer_lookahead: npt.NDArray[np.int64]
    """Proposers of the current and the next epoch (Fulu-style look-ahead, 2·SLOTS_PER_EPOCH)."""
    total_active_balance: int
    """Of the current epoch; constant within an epoch (set at each epoch transition)."""
    next_deposit_request_index: int
    attestation_pool: tuple[PendingAggregate, ...]
    operation_pool: tuple[PoolOperation, ...]
    latest_block_number: int
    latest_block_hash: str
    state_root: str = ""
    registry_size: int = -1
    """Validators in the registry (what the API serves). The arrays are sized for every validator
    the scenario will ever deposit; those past ``registry_size`` do not exist yet (balance 0,
    every epoch far future: no duty, no reward). -1: all of them (set by ``genesis_state``)."""

    @property
    def n(self) -> int:
        """The arrays' length (the registry's capacity): for the maths, not the API."""
        return len(self.balance)

    @property
    def visible(self) -> int:
        """Validators that exist: what the Beacon API serves."""
        return self.n if self.registry_size < 0 else self.registry_size

    def copy(self) -> BeaconState:
        """A shallow copy: arrays are shared and must be replaced, not written, afterwards."""
        return dataclasses.replace(self)

    def epoch(self, slots_per_epoch: int) -> int:
        return self.slot // slots_per_epoch

    def nbytes_owned(self) -> int:
        return int(self.balance.nbytes + self.current_participation.nbytes)
