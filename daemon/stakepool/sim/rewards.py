"""Altair-and-later incentive maths with Electra parameters, vectorised over validators.

Pure functions of numpy arrays and ``SimParams``. Every amount is an integer number of Gwei held in
``int64`` (no float ever touches money); epochs are ``uint64`` because ``FAR_FUTURE_EPOCH`` is 2^64−1.
Names follow consensus-specs so each function can be read against its spec counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stakepool.sim.params import SimParams, integer_squareroot

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
Bools = npt.NDArray[np.bool_]

SOURCE, TARGET, HEAD = 0, 1, 2
FLAG_BITS = (1, 2, 4)
COMPOUNDING_PREFIX = 2


def base_reward_per_increment(p: SimParams, total_active_balance: int) -> int:
    return (
        p.effective_balance_increment
        * p.base_reward_factor
        // integer_squareroot(total_active_balance)
    )


def base_rewards(p: SimParams, effective_balance: I64, brpi: int) -> I64:
    return (effective_balance // p.effective_balance_increment) * brpi


def total_balance(p: SimParams, effective_balance: I64, mask: Bools) -> int:
    """``get_total_balance``: never below one increment, so nothing divides by zero."""
    return max(p.effective_balance_increment, int(effective_balance[mask].sum()))


def is_active(activation_epoch: U64, exit_epoch: U64, epoch: int) -> Bools:
    e = np.uint64(epoch)
    return (activation_epoch <= e) & (e < exit_epoch)


def max_effective_balance(p: SimParams, credential_prefix: U8) -> I64:
    return np.where(
        credential_prefix == COMPOUNDING_PREFIX,
        np.int64(p.max_effective_balance_electra),
        np.int64(p.min_activation_balance),
    ).astype(np.int64)


# --- attestation flags -------------------------------------------------------------------------


def participation_flags(
    p: SimParams, *, source_ok: bool, target_ok: bool, head_ok: bool, delay: int
) -> int:
    """``get_attestation_participation_flag_indices`` (Deneb: target at any allowed delay)."""
    flags = 0
    if source_ok and delay <= p.source_max_delay:
        flags |= FLAG_BITS[SOURCE]
    if source_ok and target_ok:
        flags |= FLAG_BITS[TARGET]
    if source_ok and target_ok and head_ok and delay == p.min_attestation_inclusion_delay:
        flags |= FLAG_BITS[HEAD]
    return flags


def proposer_attestation_reward(p: SimParams, numerator: int) -> int:
    """The proposer's share of one attestation: ``Σ base_reward·weight // 448`` on mainnet."""
    denominator = (
        (p.weight_denominator - p.proposer_weight) * p.weight_denominator // p.proposer_weight
    )
    return numerator // denominator


@dataclass(frozen=True, slots=True)
class EpochRewardInputs:
    """Everything ``process_rewards_and_penalties`` reads for one duty epoch.

    Kept per epoch so the rewards endpoint recomputes the exact deltas that were applied.
    Arrays are shared with the state they came from and never written.
    """

    epoch: int
    effective_balance: I64
    participation: U8
    eligible: Bools
    unslashed_active: Bools
    inactivity_scores: I64
    brpi: int
    active_increments: int
    participating_increments: tuple[int, int, int]
    in_leak: bool


def reward_inputs(
    p: SimParams,
    *,
    epoch: int,
    effective_balance: I64,
    participation: U8,
    slashed: Bools,
    activation_epoch: U64,
    exit_epoch: U64,
    withdrawable_epoch: U64,
    inactivity_scores: I64,
    total_active_balance: int,
    in_leak: bool,
) -> EpochRewardInputs:
    active_prev = is_active(activation_epoch, exit_epoch, epoch)
    eligible = active_prev | (slashed & (np.uint64(epoch + 1) < withdrawable_epoch))
    unslashed_active = active_prev & ~slashed
    increments = []
    for bit in FLAG_BITS:
        mask = unslashed_active & ((participation & bit) != 0)
        increments.append(
            total_balance(p, effective_balance, mask) // p.effective_balance_increment
        )
    return EpochRewardInputs(
        epoch=epoch,
        effective_balance=effective_balance,
        participation=participation,
        eligible=eligible,
        unslashed_active=unslashed_active,
        inactivity_scores=inactivity_scores,
        brpi=base_reward_per_increment(p, total_active_balance),
        active_increments=total_active_balance // p.effective_balance_increment,
        participating_increments=(increments[0], increments[1], increments[2]),
        in_leak=in_leak,
    )


@dataclass(frozen=True, slots=True)
class AttestationDeltas:
    """Signed per-validator components (Gwei); zero for ineligible validators."""

    source: I64
    target: I64
    head: I64
    inactivity: I64


def attestation_deltas(
    p: SimParams, inp: EpochRewardInputs, indices: npt.NDArray[np.int64] | None = None
) -> AttestationDeltas:
    """``get_flag_index_deltas`` for the three flags and ``get_inactivity_penalty_deltas``."""
    sel: slice | npt.NDArray[np.int64] = slice(None) if indices is None else indices
    eb = inp.effective_balance[sel]
    eligible = inp.eligible[sel]
    part = inp.participation[sel]
    unslashed = inp.unslashed_active[sel]
    base = base_rewards(p, eb, inp.brpi)
    out: list[I64] = []
    for flag, weight in enumerate(p.flag_weights):
        hit = unslashed & ((part & FLAG_BITS[flag]) != 0)
        if inp.in_leak:
            reward = np.zeros_like(base)
        else:
            reward = (
                base
                * weight
                * inp.participating_increments[flag]
                // (inp.active_increments * p.weight_denominator)
            )
        penalty = np.zeros_like(base) if flag == HEAD else base * weight // p.weight_denominator
        out.append(np.where(eligible, np.where(hit, reward, -penalty), 0).astype(np.int64))
    target_hit = unslashed & ((part & FLAG_BITS[TARGET]) != 0)
    inactivity = (
        eb * inp.inactivity_scores[sel] // (p.inactivity_score_bias * p.inactivity_penalty_quotient)
    )
    inactivity = np.where(eligible & ~target_hit, -inactivity, 0).astype(np.int64)
    return AttestationDeltas(source=out[0], target=out[1], head=out[2], inactivity=inactivity)


def ideal_rewards(
    p: SimParams, inp: EpochRewardInputs, effective_balance: int
) -> tuple[int, int, int]:
    """(source, target, head) of a validator with this EB and all three flags."""
    if inp.in_leak:
        return (0, 0, 0)
    base = effective_balance // p.effective_balance_increment * inp.brpi
    w = p.flag_weights
    return (
        base
        * w[SOURCE]
        * inp.participating_increments[SOURCE]
        // (inp.active_increments * p.weight_denominator),
        base
        * w[TARGET]
        * inp.participating_increments[TARGET]
        // (inp.active_increments * p.weight_denominator),
        base
        * w[HEAD]
        * inp.participating_increments[HEAD]
        // (inp.active_increments * p.weight_denominator),
    )


def apply_deltas(balance: I64, deltas: AttestationDeltas) -> I64:
    """Apply in spec order, each step floored at zero like ``decrease_balance``."""
    out = balance
    for d in (deltas.source, deltas.target, deltas.head, deltas.inactivity):
        out = np.maximum(out + d, 0)
    return out.astype(np.int64)


def inactivity_updates(
    p: SimParams, scores: I64, eligible: Bools, target_hit_unslashed: Bools, in_leak: bool
) -> I64:
    """``process_inactivity_updates``."""
    s = scores.copy()
    hit = eligible & target_hit_unslashed
    miss = eligible & ~target_hit_unslashed
    s[hit] -= np.minimum(1, s[hit])
    s[miss] += p.inactivity_score_bias
    if not in_leak:
        s[eligible] -= np.minimum(p.inactivity_score_recovery_rate, s[eligible])
    return s


# --- sync committee ----------------------------------------------------------------------------


def sync_rewards(p: SimParams, total_active_balance: int) -> tuple[int, int]:
    """(participant_reward per seat, proposer_reward per set bit) of ``process_sync_aggregate``."""
    active_increments = total_active_balance // p.effective_balance_increment
    total_base = base_reward_per_increment(p, total_active_balance) * active_increments
    max_participant = total_base * p.sync_reward_weight // p.weight_denominator // p.slots_per_epoch
    participant = max_participant // p.sync_committee_size
    proposer = participant * p.proposer_weight // (p.weight_denominator - p.proposer_weight)
    return participant, proposer


# --- effective balance, slashing, churn --------------------------------------------------------


def effective_balance_updates(
    p: SimParams, balance: I64, effective_balance: I64, credential_prefix: U8
) -> I64:
    """``process_effective_balance_updates`` with hysteresis and Electra's per-credential cap."""
    inc = p.effective_balance_increment // p.hysteresis_quotient
    down = inc * p.hysteresis_downward_multiplier
    up = inc * p.hysteresis_upward_multiplier
    change = (balance + down < effective_balance) | (effective_balance + up < balance)
    target = np.minimum(
        balance - balance % p.effective_balance_increment,
        max_effective_balance(p, credential_prefix),
    )
    return np.where(change, target, effective_balance).astype(np.int64)


def initial_slashing_penalty(p: SimParams, effective_balance: int) -> int:
    return effective_balance // p.min_slashing_penalty_quotient


def whistleblower_reward(p: SimParams, effective_balance: int) -> int:
    """All of it goes to the proposer (no whistleblower index is ever passed)."""
    return effective_balance // p.whistleblower_reward_quotient


def correlation_penalty_per_increment(
    p: SimParams, slashings_sum: int, total_active_balance: int
) -> int:
    adjusted = min(slashings_sum * p.proportional_slashing_multiplier, total_active_balance)
    return adjusted // (total_active_balance // p.effective_balance_increment)


def balance_churn_limit(p: SimParams, total_active_balance: int) -> int:
    churn = max(p.min_per_epoch_churn_limit, total_active_balance // p.churn_limit_quotient)
    return churn - churn % p.effective_balance_increment


def activation_exit_churn_limit(p: SimParams, total_active_balance: int) -> int:
    return min(
        p.max_per_epoch_activation_exit_churn_limit,
        balance_churn_limit(p, total_active_balance),
    )


# --- withdrawals -------------------------------------------------------------------------------


def sweep_withdrawals(
    p: SimParams,
    *,
    epoch: int,
    start_index: int,
    balance: I64,
    effective_balance: I64,
    credential_prefix: U8,
    withdrawable_epoch: U64,
) -> list[tuple[int, int]]:
    """``get_validators_sweep_withdrawals``: (validator_index, amount), at most one per validator.

    Vectorised over the bounded sweep window; order is the sweep order from ``start_index``.
    """
    n = len(balance)
    bound = min(n, p.max_validators_per_withdrawals_sweep)
    window = (start_index + np.arange(bound, dtype=np.int64)) % n
    bal = balance[window]
    executable = credential_prefix[window] >= 1
    full = executable & (withdrawable_epoch[window] <= np.uint64(epoch)) & (bal > 0)
    max_eb = max_effective_balance(p, credential_prefix[window])
    partial = executable & ~full & (effective_balance[window] == max_eb) & (bal > max_eb)
    amount = np.where(full, bal, bal - max_eb)
    picked = np.flatnonzero(full | partial)[: p.max_withdrawals_per_payload]
    return [(int(window[i]), int(amount[i])) for i in picked]


def next_sweep_index(
    p: SimParams, n: int, start_index: int, withdrawals: list[tuple[int, int]]
) -> int:
    if len(withdrawals) == p.max_withdrawals_per_payload:
        return (withdrawals[-1][0] + 1) % n
    return (start_index + p.max_validators_per_withdrawals_sweep) % n
