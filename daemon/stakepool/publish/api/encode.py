"""The ledger's typed answers as JSON: every amount a decimal string of Gwei, like the Beacon API.

Amounts leave the daemon as strings because JSON numbers lose precision past 2^53 in most clients
(JavaScript among them); epochs, indices and counts stay numbers. A ``FinalTotal`` becomes
``{"final": "…", "total": "…"}``.
"""

from __future__ import annotations

from typing import Any

from stakepool.ledger.delegations_gate import HeldChange
from stakepool.ledger.queries import (
    DelegationApplyResult,
    DelegationChange,
    DelegatorDetail,
    DelegatorEpoch,
    DelegatorSummary,
    FinalTotal,
    LedgerStatus,
    PayoutRecord,
    PoolEpoch,
    PoolTotals,
    ValidatorEpoch,
    ValidatorSummary,
)
from stakepool.ledger.rollup import DayRow

JsonObject = dict[str, Any]


def gwei(amount: int) -> str:
    return str(amount)


def optional_gwei(amount: int | None) -> str | None:
    return None if amount is None else str(amount)


def pair(value: FinalTotal) -> JsonObject:
    return {"final": gwei(value.final), "total": gwei(value.total)}


def status(value: LedgerStatus, *, pool_id: str, version: str, writes_enabled: bool) -> JsonObject:
    return {
        "pool_id": pool_id,
        "version": version,
        "writes_enabled": writes_enabled,
        "last_settled_epoch": value.last_settled_epoch,
        "last_final_epoch": value.last_final_epoch,
        "finalized_epoch": value.finalized_epoch,
        "delegators": value.delegators,
        "reversed_epochs": value.reversed_epochs,
    }


def pool(value: PoolTotals) -> JsonObject:
    return {
        "pool_id": value.pool_id,
        "delegators": value.delegators,
        "principal_gwei": pair(value.principal_gwei),
        "rewards_gwei": pair(value.rewards_gwei),
        "rewards_cl_gwei": pair(value.rewards_cl_gwei),
        "rewards_el_gwei": pair(value.rewards_el_gwei),
        "fees_gwei": pair(value.fees_gwei),
        "dust_gwei": pair(value.dust_gwei),
        "distributed_gwei": pair(value.distributed_gwei),
        "operator_bond_delta_gwei": pair(value.operator_bond_delta_gwei),
        "unassigned_gwei": pair(value.unassigned_gwei),
        "last_settled_epoch": value.last_settled_epoch,
        "last_final_epoch": value.last_final_epoch,
    }


def merged(span: tuple[int, int] | None) -> JsonObject | None:
    """The merged window an epoch's figures are a share of (``None``: its own window)."""
    return None if span is None else {"from_epoch": span[0], "to_epoch": span[1]}


def pool_epoch(value: PoolEpoch) -> JsonObject:
    return {
        "epoch": value.epoch,
        "status": value.status,
        "reward_cl_gwei": gwei(value.reward_cl_gwei),
        "reward_el_gwei": optional_gwei(value.reward_el_gwei),
        "reward_gwei": gwei(value.reward_gwei),
        "fee_gwei": gwei(value.fee_gwei),
        "distributed_gwei": gwei(value.distributed_gwei),
        "total_weight_gwei": gwei(value.total_weight_gwei),
        "delegators": value.delegators,
        "bond_delta_gwei": gwei(value.bond_delta_gwei),
        "unassigned_gwei": gwei(value.unassigned_gwei),
        "merged": merged(value.merged),
    }


def validator(value: ValidatorSummary) -> JsonObject:
    return {
        "validator_index": value.validator_index,
        "first_epoch": value.first_epoch,
        "last_epoch": value.last_epoch,
        "reward_gwei": pair(value.reward_gwei),
    }


def validator_epoch(value: ValidatorEpoch) -> JsonObject:
    components = value.components_gwei
    return {
        "resolution": "epoch",
        "epoch": value.epoch,
        "validator_index": value.validator_index,
        "status": value.status,
        "reward_gwei": gwei(value.reward_gwei),
        "components_gwei": None
        if components is None
        else {name: gwei(amount) for name, amount in sorted(components.items())},
        "residual_gwei": optional_gwei(value.residual_gwei),
        "attestation_included": value.attestation_included,
        "proposals": value.proposals,
        "proposals_missed": value.proposals_missed,
        "merged": merged(value.merged),
    }


def validator_day(value: DayRow) -> JsonObject:
    """A statement period's roll-up of one validator (its per-epoch detail was pruned)."""
    d = value.sums
    components = d.components_gwei
    return {
        "resolution": "day",
        "period": value.period,
        "first_epoch": d.first_epoch,
        "last_epoch": d.last_epoch,
        "epochs": d.epochs,
        "validator_index": d.validator_index,
        "status": "final",
        "reward_gwei": gwei(d.reward_gwei),
        "components_gwei": None
        if components is None
        else {name: gwei(amount) for name, amount in sorted(components.items())},
        "residual_gwei": optional_gwei(d.residual_gwei),
        "attestations_included": d.attestations_included,
        "attestations_missed": d.attestations_missed,
        "proposals": d.proposals,
        "proposals_missed": d.proposals_missed,
    }


def delegator_summary(value: DelegatorSummary) -> JsonObject:
    return {
        "id": value.id,
        "principal_gwei": gwei(value.principal_gwei),
        "accrued_gwei": pair(value.accrued_gwei),
    }


def delegator(value: DelegatorDetail) -> JsonObject:
    return {
        "id": value.id,
        "principal_gwei": gwei(value.principal_gwei),
        "accrued_gwei": pair(value.accrued_gwei),
        "paid_gwei": gwei(value.paid_gwei),
        "claimable_gwei": gwei(value.claimable_gwei),
        "first_epoch": value.first_epoch,
    }


def delegator_epoch(value: DelegatorEpoch) -> JsonObject:
    return {
        "epoch": value.epoch,
        "status": value.status,
        "weight_gwei": gwei(value.weight_gwei),
        "credit_gwei": gwei(value.credit_gwei),
        "accrued_gwei": gwei(value.accrued_gwei),
        "merged": merged(value.merged),
    }


def delegation_change(value: DelegationChange) -> JsonObject:
    return {
        "delegator": value.delegator,
        "effective_epoch": value.effective_epoch,
        "weight_gwei": gwei(value.weight_gwei),
        "previous_weight_gwei": gwei(value.previous_weight_gwei),
        "source": value.source,
    }


def delegations_applied(value: DelegationApplyResult) -> JsonObject:
    return {
        "effective_epoch": value.effective_epoch,
        "delegators": value.delegators,
        "changes": [delegation_change(c) for c in value.changes],
    }


def held_change(value: HeldChange) -> JsonObject:
    return {
        "file": value.file,
        "digest": value.digest,
        "reason": value.reason,
        "effective_epoch": value.effective_epoch,
        "weight_before_gwei": gwei(value.weight_before_gwei),
        "weight_removed_gwei": gwei(value.weight_removed_gwei),
    }


def payout(value: PayoutRecord) -> JsonObject:
    return {
        "id": value.id,
        "delegator": value.delegator,
        "amount_gwei": gwei(value.amount_gwei),
        "reference": value.reference,
        "claimable_after_gwei": gwei(value.claimable_after_gwei),
        "recorded_at": value.recorded_at,
    }
