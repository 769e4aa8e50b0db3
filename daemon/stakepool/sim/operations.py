"""Block operations that change the registry: slashings and exits, and their pool evidence."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.params import SimParams
from stakepool.sim.rewards import (
    activation_exit_churn_limit,
    initial_slashing_penalty,
    whistleblower_reward,
)
from stakepool.sim.state import BeaconState, PoolOperation

ZERO_HASH = "0x" + "00" * 32


def initiate_exit(p: SimParams, s: BeaconState, v: int, epoch: int) -> None:
    """Electra ``initiate_validator_exit`` through ``compute_exit_epoch_and_update_churn``."""
    if int(s.exit_epoch[v]) != p.far_future_epoch:
        return
    exit_balance = int(s.effective_balance[v])
    earliest = max(s.earliest_exit_epoch, p.compute_activation_exit_epoch(epoch))
    churn = activation_exit_churn_limit(p, s.total_active_balance)
    to_consume = churn if s.earliest_exit_epoch < earliest else s.exit_balance_to_consume
    if exit_balance > to_consume:
        extra = (exit_balance - to_consume - 1) // churn + 1
        earliest += extra
        to_consume += extra * churn
    s.exit_balance_to_consume = to_consume - exit_balance
    s.earliest_exit_epoch = earliest
    s.exit_epoch[v] = earliest
    s.withdrawable_epoch[v] = earliest + p.min_validator_withdrawability_delay


def slash_validator(
    p: SimParams,
    s: BeaconState,
    balance: npt.NDArray[np.int64],
    v: int,
    *,
    epoch: int,
    proposer: int,
) -> tuple[int, int]:
    """``slash_validator``; returns (initial penalty, whistleblower reward paid to the proposer)."""
    initiate_exit(p, s, v, epoch)
    s.slashed[v] = True
    s.withdrawable_epoch[v] = max(
        int(s.withdrawable_epoch[v]), epoch + p.epochs_per_slashings_vector
    )
    eb = int(s.effective_balance[v])
    s.slashings[epoch % p.epochs_per_slashings_vector] += eb
    penalty = min(initial_slashing_penalty(p, eb), int(balance[v]))
    balance[v] -= penalty
    reward = whistleblower_reward(p, eb)
    # The proposer part and the "whistleblower" remainder both go to the proposer.
    balance[proposer] += reward
    return penalty, reward


def own_registry(s: BeaconState) -> None:
    s.slashed = s.slashed.copy()
    s.exit_epoch = s.exit_epoch.copy()
    s.withdrawable_epoch = s.withdrawable_epoch.copy()
    s.slashings = s.slashings.copy()


def is_slashable(s: BeaconState, v: int, epoch: int) -> bool:
    return not bool(s.slashed[v]) and int(s.activation_epoch[v]) <= epoch < int(
        s.withdrawable_epoch[v]
    )


def slashing_evidence(
    p: SimParams,
    *,
    kind: str,
    validators: tuple[int, ...],
    slot: int,
    include_slot: int,
    parent_root: str,
) -> PoolOperation:
    """Build the JSON evidence of a double vote / double proposal."""
    if kind == "proposer":
        v = validators[0]
        headers = []
        for branch in ("a", "b"):
            headers.append(
                {
                    "message": {
                        "slot": str(slot),
                        "proposer_index": str(v),
                        "parent_root": parent_root,
                        "state_root": ids.digest("equivocation-state", slot, v, branch),
                        "body_root": ids.digest("equivocation-body", slot, v, branch),
                    },
                    "signature": ids.signature("equivocation", slot, v, branch),
                }
            )
        body: dict[str, Any] = {"signed_header_1": headers[0], "signed_header_2": headers[1]}
        return PoolOperation("proposer", (v,), include_slot, body)
    ordered = sorted(set(validators))
    atts = []
    for branch in ("a", "b"):
        atts.append(
            {
                "attesting_indices": [str(v) for v in ordered],
                "data": {
                    "slot": str(slot),
                    "index": "0",
                    "beacon_block_root": ids.digest("double-vote", slot, branch),
                    "source": {"epoch": "0", "root": ZERO_HASH},
                    "target": {
                        "epoch": str(p.epoch_of(slot)),
                        "root": ids.digest("dv-target", branch),
                    },
                },
                "signature": ids.signature("double-vote", slot, branch),
            }
        )
    body = {"attestation_1": atts[0], "attestation_2": atts[1]}
    return PoolOperation("attester", tuple(ordered), include_slot, body)


def voluntary_exit(p: SimParams, validator: int, slot: int, include_slot: int) -> PoolOperation:
    body = {
        "message": {"epoch": str(p.epoch_of(slot)), "validator_index": str(validator)},
        "signature": ids.signature("exit", validator, slot),
    }
    return PoolOperation("voluntary_exit", (validator,), include_slot, body)
