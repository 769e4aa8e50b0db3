"""``process_epoch`` for the simulated chain, in the spec's order.

Justification and finalization, inactivity updates, rewards and penalties, slashings (correlation
penalty), pending deposits, effective-balance updates, slashings reset, participation rotation,
sync-committee rotation and the proposer look-ahead. Registry updates are the activation queue
(Electra): a validator created by a deposit becomes eligible the epoch after, and is activated
``1 + MAX_SEED_LOOKAHEAD`` epochs after its eligibility epoch is finalized; the churn is the deposit
queue's (``process_pending_deposits``: ``deposit_balance_to_consume``). Ejections are not
modelled (the simulated chain never ejects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stakepool.sim.params import SimParams
from stakepool.sim.rewards import (
    FLAG_BITS,
    TARGET,
    EpochRewardInputs,
    activation_exit_churn_limit,
    apply_deltas,
    attestation_deltas,
    correlation_penalty_per_increment,
    effective_balance_updates,
    inactivity_updates,
    is_active,
    max_effective_balance,
    reward_inputs,
    total_balance,
)
from stakepool.sim.shuffling import compute_proposers, compute_sync_committee
from stakepool.sim.state import BeaconState, Checkpoint, PendingDeposit


@dataclass(frozen=True, slots=True)
class EpochOutcome:
    epoch: int
    """The epoch that was processed (the state's current epoch before the transition)."""
    reward_inputs: EpochRewardInputs | None
    """For duty epoch ``epoch − 1``; ``None`` at the genesis epoch."""
    correlation_penalties: dict[int, int]
    deposits_applied: tuple[PendingDeposit, ...]
    finalized_changed: bool
    justified_changed: bool


def _weigh_justification(
    p: SimParams,
    s: BeaconState,
    current: int,
    *,
    total_active: int,
    previous_target: int,
    current_target: int,
    block_root_at_epoch: Callable[[int], str],
) -> None:
    previous = current - 1
    old_previous = s.previous_justified
    old_current = s.current_justified
    s.previous_justified = s.current_justified
    bits = [False, *s.justification_bits[:3]]
    if previous_target * 3 >= total_active * 2:
        s.current_justified = Checkpoint(previous, block_root_at_epoch(previous))
        bits[1] = True
    if current_target * 3 >= total_active * 2:
        s.current_justified = Checkpoint(current, block_root_at_epoch(current))
        bits[0] = True
    s.justification_bits = (bits[0], bits[1], bits[2], bits[3])
    if all(bits[1:4]) and old_previous.epoch + 3 == current:
        s.finalized = old_previous
    if all(bits[1:3]) and old_previous.epoch + 2 == current:
        s.finalized = old_previous
    if all(bits[0:3]) and old_current.epoch + 2 == current:
        s.finalized = old_current
    if all(bits[0:2]) and old_current.epoch + 1 == current:
        s.finalized = old_current


def _registry_updates(p: SimParams, s: BeaconState, current: int) -> None:
    """Electra ``process_registry_updates`` without ejections: the activation queue."""
    far = np.uint64(p.far_future_epoch)
    queue = (s.activation_eligibility_epoch == far) & (
        s.effective_balance >= p.min_activation_balance
    )
    ready = (
        (s.activation_eligibility_epoch <= np.uint64(s.finalized.epoch))
        & (s.activation_epoch == far)
        & ~queue
    )
    if queue.any():
        eligibility = s.activation_eligibility_epoch.copy()
        eligibility[queue] = current + 1
        s.activation_eligibility_epoch = eligibility
    if ready.any():
        activation = s.activation_epoch.copy()
        activation[ready] = p.compute_activation_exit_epoch(current)
        s.activation_epoch = activation


def _create(p: SimParams, s: BeaconState, dep: PendingDeposit) -> None:
    """``add_validator_to_registry``: the deposit's validator joins with its effective balance
    (eligibility and activation far in the future until the registry updates queue it)."""
    v = dep.validator_index
    assert v == s.registry_size, f"new validator {v} out of order (registry {s.registry_size})"
    s.registry_size = v + 1
    prefix = s.credential_prefix[v : v + 1]
    cap = int(max_effective_balance(p, prefix)[0])
    effective = s.effective_balance.copy()
    effective[v] = min(dep.amount - dep.amount % p.effective_balance_increment, cap)
    s.effective_balance = effective


def _pending_deposits(p: SimParams, s: BeaconState, current: int) -> tuple[PendingDeposit, ...]:
    """Electra ``process_pending_deposits``: top-ups of existing validators and deposits that
    create new ones (validator index at or past ``registry_size``)."""
    next_epoch = current + 1
    available = s.deposit_balance_to_consume + activation_exit_churn_limit(
        p, s.total_active_balance
    )
    processed = 0
    consumed = 0
    postponed: list[PendingDeposit] = []
    applied: list[PendingDeposit] = []
    churn_reached = False
    finalized_slot = p.start_slot(s.finalized.epoch)
    for dep in s.pending_deposits:
        if dep.slot > finalized_slot or consumed >= p.max_pending_deposits_per_epoch:
            break
        v = dep.validator_index
        exited = int(s.exit_epoch[v]) < p.far_future_epoch
        withdrawn = int(s.withdrawable_epoch[v]) < next_epoch
        if withdrawn:
            applied.append(dep)
        elif exited:
            postponed.append(dep)
        else:
            churn_reached = processed + dep.amount > available
            if churn_reached:
                break
            processed += dep.amount
            applied.append(dep)
        consumed += 1
    s.pending_deposits = (*s.pending_deposits[consumed:], *postponed)
    s.deposit_balance_to_consume = available - processed if churn_reached else 0
    if applied:
        balance = s.balance.copy()
        for dep in applied:
            if dep.validator_index >= s.registry_size:
                _create(p, s, dep)
            balance[dep.validator_index] += dep.amount
        s.balance = balance
    return tuple(applied)


def process_epoch(
    p: SimParams,
    pre: BeaconState,
    *,
    seed: int,
    stalled: bool,
    block_root_at_epoch: Callable[[int], str],
) -> tuple[BeaconState, EpochOutcome]:
    """Run the transition at the end of ``pre``'s epoch; ``pre.slot`` is that epoch's last slot."""
    s = pre.copy()
    current = p.epoch_of(pre.slot)
    previous = max(current - 1, 0)
    tab = pre.total_active_balance
    target_bit = FLAG_BITS[TARGET]

    old_finalized, old_justified = s.finalized, s.current_justified
    if current > 1:
        unslashed_prev = is_active(s.activation_epoch, s.exit_epoch, previous) & ~s.slashed
        unslashed_cur = is_active(s.activation_epoch, s.exit_epoch, current) & ~s.slashed
        prev_target = total_balance(
            p, s.effective_balance, unslashed_prev & ((s.previous_participation & target_bit) != 0)
        )
        cur_target = total_balance(
            p, s.effective_balance, unslashed_cur & ((s.current_participation & target_bit) != 0)
        )
        if stalled:
            prev_target = cur_target = 0
        _weigh_justification(
            p,
            s,
            current,
            total_active=tab,
            previous_target=prev_target,
            current_target=cur_target,
            block_root_at_epoch=block_root_at_epoch,
        )
    in_leak = previous - s.finalized.epoch > p.min_epochs_to_inactivity_penalty

    inputs: EpochRewardInputs | None = None
    if current > 0:
        probe = reward_inputs(
            p,
            epoch=previous,
            effective_balance=s.effective_balance,
            participation=s.previous_participation,
            slashed=s.slashed,
            activation_epoch=s.activation_epoch,
            exit_epoch=s.exit_epoch,
            withdrawable_epoch=s.withdrawable_epoch,
            inactivity_scores=s.inactivity_scores,
            total_active_balance=tab,
            in_leak=in_leak,
        )
        target_hit = probe.unslashed_active & ((s.previous_participation & target_bit) != 0)
        s.inactivity_scores = inactivity_updates(
            p, s.inactivity_scores, probe.eligible, target_hit, in_leak
        )
        inputs = EpochRewardInputs(
            epoch=probe.epoch,
            effective_balance=probe.effective_balance,
            participation=probe.participation,
            eligible=probe.eligible,
            unslashed_active=probe.unslashed_active,
            inactivity_scores=s.inactivity_scores,
            brpi=probe.brpi,
            active_increments=probe.active_increments,
            participating_increments=probe.participating_increments,
            in_leak=in_leak,
        )
        s.balance = apply_deltas(s.balance, attestation_deltas(p, inputs))

    _registry_updates(p, s, current)

    # Correlation penalty, halfway through the slashings vector after the slashing.
    correlation: dict[int, int] = {}
    due = s.slashed & (
        s.withdrawable_epoch == np.uint64(current + p.epochs_per_slashings_vector // 2)
    )
    if due.any():
        per_inc = correlation_penalty_per_increment(p, int(s.slashings.sum()), tab)
        balance = s.balance.copy()
        for v in np.flatnonzero(due):
            penalty = per_inc * (int(s.effective_balance[v]) // p.effective_balance_increment)
            correlation[int(v)] = min(penalty, int(balance[v]))
            balance[v] = max(0, int(balance[v]) - penalty)
        s.balance = balance

    applied = _pending_deposits(p, s, current)

    s.effective_balance = effective_balance_updates(
        p, s.balance, s.effective_balance, s.credential_prefix
    )
    slashings = s.slashings.copy()
    slashings[(current + 1) % p.epochs_per_slashings_vector] = 0
    s.slashings = slashings

    s.previous_participation = s.current_participation
    s.current_participation = np.zeros_like(s.current_participation)

    next_epoch = current + 1
    if next_epoch % p.epochs_per_sync_committee_period == 0:
        s.current_sync_committee = s.next_sync_committee
        s.next_sync_committee = compute_sync_committee(
            p,
            seed,
            p.period_of(next_epoch) + 1,
            activation_epoch=s.activation_epoch,
            exit_epoch=s.exit_epoch,
            effective_balance=s.effective_balance,
        )
    s.proposer_lookahead = np.concatenate(
        [
            s.proposer_lookahead[p.slots_per_epoch :],
            compute_proposers(
                p,
                seed,
                next_epoch + 1,
                activation_epoch=s.activation_epoch,
                exit_epoch=s.exit_epoch,
                effective_balance=s.effective_balance,
            ),
        ]
    )
    s.total_active_balance = total_balance(
        p, s.effective_balance, is_active(s.activation_epoch, s.exit_epoch, next_epoch)
    )
    return s, EpochOutcome(
        epoch=current,
        reward_inputs=inputs,
        correlation_penalties=correlation,
        deposits_applied=applied,
        finalized_changed=s.finalized != old_finalized,
        justified_changed=s.current_justified != old_justified,
    )
