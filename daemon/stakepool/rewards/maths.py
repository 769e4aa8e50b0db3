"""The pure arithmetic of one validator's window: settlement, explanation, residual, missed reward.

No I/O, no clock: integers in, integers out (accounting.md §4, §4.5). ``//`` is Python's floor
division, as in the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stakepool.rewards.types import BalanceMoves, RewardExplanation

MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA = 4096
"""Electra's initial slashing penalty divisor (the pre-Electra 128/64/32 are retired)."""


@dataclass(frozen=True, slots=True)
class AttestationComponents:
    """One ``total_rewards`` (or ``ideal_rewards``) row of ``rewards/attestations``."""

    source: int
    target: int
    head: int
    inactivity: int = 0

    @property
    def total(self) -> int:
        return self.source + self.target + self.head + self.inactivity


def settle(balance_start: int, balance_end: int, moves: BalanceMoves) -> int:
    """``r_v(k) = ΔB + W − Dep + ConsOut − ConsIn`` (accounting.md §4.1).

    Deposits use the queue identity ``Dep = Q(k−1) + N(k) − Q(k)``, so a deposit is neutral
    whether it is still queued or already applied, and a switch-to-compounding (which moves the
    excess from the balance back into the queue) nets to zero. A dropped deposit (new pubkey, bad
    signature) leaves the queue without reaching a balance: it shows up as a loss, which it is.
    """
    return (
        balance_end
        - balance_start
        + moves.withdrawals_gwei
        - moves.deposits_gwei
        + moves.consolidation_out_gwei
        - moves.consolidation_in_gwei
    )


def initial_slashing_penalty(
    effective_balance: int, quotient: int = MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA
) -> int:
    return effective_balance // quotient


def sync_seat_reward(participant_reward: int, seat_bits: Sequence[bool]) -> int:
    """A validator's sync income in one block: ``+pr`` per signed seat, ``−pr`` per unsigned one.

    Computed per seat from the block's bits, so a validator holding several seats is counted once
    per seat whichever way a node lists duplicate seats (accounting.md §3.3)."""
    signed = sum(1 for bit in seat_bits if bit)
    return participant_reward * (2 * signed - len(seat_bits))


def explain(
    duty_epoch: int,
    attestation: AttestationComponents | None,
    *,
    block_rewards: Iterable[int] = (),
    sync_rewards: Iterable[int] = (),
    slashing_penalty: int = 0,
    correlation_penalty: int | None = 0,
) -> RewardExplanation:
    """The endpoints' account of a window (accounting.md §4.5 right-hand side).

    ``attestation`` ``None`` means the node listed no row for the validator (not eligible in the
    duty epoch): it was paid nothing for it, so its components are 0."""
    a = attestation or AttestationComponents(0, 0, 0, 0)
    return RewardExplanation(
        duty_epoch=duty_epoch,
        source=a.source,
        target=a.target,
        head=a.head,
        inactivity=a.inactivity,
        proposer=sum(block_rewards),
        sync=sum(sync_rewards),
        slashing_penalty=slashing_penalty,
        correlation_penalty=correlation_penalty,
    )


def residual(settlement: int, explanation: RewardExplanation | None) -> int | None:
    """``r_v(k) − RHS``: 0 when every Gwei is explained; ``None`` when the RHS is unknown."""
    if explanation is None:
        return None
    total = explanation.total
    return None if total is None else settlement - total


def missed(ideal: AttestationComponents | None, actual: AttestationComponents | None) -> int | None:
    """Missed attestation reward = ideal (at the validator's EB) − actual (accounting.md §3.1).

    ``None`` when either side is unknown (no ideal row for that EB — some clients omit buckets —
    or no row for the validator). During a leak ideal rewards are 0, so ``missed`` is the penalty
    paid, as it should be."""
    if ideal is None or actual is None:
        return None
    return ideal.source + ideal.target + ideal.head - actual.total


def is_correlation_epoch(
    epoch: int, slashed: bool, withdrawable_epoch: int, epochs_per_slashings_vector: int
) -> bool:
    """Whether the transition into ``epoch`` applies ``v``'s correlation penalty.

    ``process_slashings`` runs with ``current_epoch = epoch − 1`` and hits validators with
    ``current_epoch + EPOCHS_PER_SLASHINGS_VECTOR // 2 == withdrawable_epoch``."""
    return slashed and epoch - 1 + epochs_per_slashings_vector // 2 == withdrawable_epoch
