"""Assembling each validator's explanation, residual and missed reward for a window (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stakepool.beacon.models import AttestationRewards
from stakepool.beacon.models.reward_columns import AttestationRewardColumns
from stakepool.rewards.maths import (
    AttestationComponents,
    explain,
    initial_slashing_penalty,
    is_correlation_epoch,
    missed,
    residual,
)
from stakepool.rewards.types import ValidatorEpochReward


@dataclass(frozen=True, slots=True)
class Record:
    """What the rewards code keeps of a validator record (a compact copy of the API's)."""

    balance: int
    effective_balance: int
    slashed: bool
    activation_epoch: int
    exit_epoch: int
    withdrawable_epoch: int
    pubkey: str
    """Lower-case."""

    def had_duty(self, duty_epoch: int) -> bool:
        """Eligible for attestation rewards or penalties in ``duty_epoch``
        (``get_eligible_validator_indices``): active then, or slashed and not yet withdrawable.
        Without a duty nothing can be missed."""
        active = self.activation_epoch <= duty_epoch < self.exit_epoch
        return active or (self.slashed and duty_epoch + 1 < self.withdrawable_epoch)


@dataclass(frozen=True, slots=True)
class AttestationFigures:
    """``rewards/attestations`` of one duty epoch, compacted (the API's models are large)."""

    totals: Mapping[int, AttestationComponents]
    """Validator → its row (a validator the node did not list has none)."""
    ideal: Mapping[int, AttestationComponents]
    """Effective balance → the ideal row (some clients omit buckets)."""

    @classmethod
    def merge(cls, parts: Sequence[AttestationRewards]) -> AttestationFigures:
        totals: dict[int, AttestationComponents] = {}
        ideal: dict[int, AttestationComponents] = {}
        for part in parts:
            for t in part.total_rewards:
                totals[int(t.validator_index)] = AttestationComponents(
                    int(t.source), int(t.target), int(t.head), int(t.inactivity)
                )
            for i in part.ideal_rewards:
                ideal[int(i.effective_balance)] = AttestationComponents(
                    int(i.source), int(i.target), int(i.head)
                )
        return cls(totals, ideal)

    @classmethod
    def of_columns(cls, answer: AttestationRewardColumns) -> AttestationFigures:
        """``merge`` of one answer read as columns (no model per validator)."""
        totals = dict(
            zip(
                answer.validator_index,
                map(
                    AttestationComponents,
                    answer.source,
                    answer.target,
                    answer.head,
                    answer.inactivity,
                ),
                strict=True,
            )
        )
        ideal = {
            int(i.effective_balance): AttestationComponents(
                int(i.source), int(i.target), int(i.head)
            )
            for i in answer.ideal_rewards
        }
        return cls(totals, ideal)


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    """What the rewards endpoints said about a window, per pool validator."""

    attestations: AttestationFigures | None
    """Duty epoch ``k − 2``; ``None`` only for window 1 (no duty epoch −1)."""
    block_rewards: Mapping[int, Sequence[int]]
    """Proposer → ``total`` of each of its blocks in the window."""
    sync_rewards: Mapping[int, Sequence[int]]
    """Sync-committee member → its reward in each block of the window (per seat, summed)."""
    slashed_effective_balance: Mapping[int, int]
    """Validators slashed in the window → their effective balance when slashed."""


def explained_rows(
    rows: Sequence[ValidatorEpochReward],
    figures: EndpointFigures,
    start: Mapping[int, Record],
    *,
    slashing_quotient: int,
    slashings_vector: int,
) -> tuple[ValidatorEpochReward, ...]:
    """``rows`` with explanation, residual and missed reward filled in.

    ``start``: the records at ``LAST(k − 1)`` — the state the attestation rewards of ``k − 2``
    were computed from (so its effective balance picks the ideal row) and the one whose
    ``withdrawable_epoch`` says whether the transition into ``k`` applied a correlation penalty."""
    att = figures.attestations
    out: list[ValidatorEpochReward] = []
    for row in rows:
        v = row.validator
        actual = att.totals.get(v) if att is not None else None
        # By effective balance, never by position: bucket coverage varies between clients.
        ideal = att.ideal.get(row.effective_balance_gwei) if att is not None else None
        rec = start.get(v)
        eb_slashed = figures.slashed_effective_balance.get(v)
        penalty = (
            0 if eb_slashed is None else initial_slashing_penalty(eb_slashed, slashing_quotient)
        )
        correlation: int | None = 0
        if rec is not None and is_correlation_epoch(
            row.epoch, rec.slashed, rec.withdrawable_epoch, slashings_vector
        ):
            correlation = None
        explanation = explain(
            row.epoch - 2,
            actual,
            block_rewards=figures.block_rewards.get(v, ()),
            sync_rewards=figures.sync_rewards.get(v, ()),
            slashing_penalty=penalty,
            correlation_penalty=correlation,
        )
        had_duty = att is not None and rec is not None and rec.had_duty(row.epoch - 2)
        # The constructor, not dataclasses.replace: 100,000 rows per window add up.
        out.append(
            ValidatorEpochReward(
                validator=v,
                epoch=row.epoch,
                settlement_gwei=row.settlement_gwei,
                balance_start_gwei=row.balance_start_gwei,
                balance_end_gwei=row.balance_end_gwei,
                moves=row.moves,
                effective_balance_gwei=row.effective_balance_gwei,
                explanation=explanation,
                residual_gwei=residual(row.settlement_gwei, explanation),
                missed_gwei=missed(ideal, actual) if had_duty else None,
            )
        )
    return tuple(out)
