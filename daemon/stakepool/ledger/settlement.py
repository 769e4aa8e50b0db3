"""One epoch's pool settlement: R = Σ r_v + EL → fee → loss policy → accumulator. Pure.

``settle_epoch(state, input, weights, policy)`` returns the epoch's figures and the ledger state
after it; the store keeps one state snapshot per epoch, so a reorg restarts from the snapshot of
the common ancestor and a replay recomputes byte-identical rows.

Identity per epoch: ``reward = fee + bond_delta + unassigned + distributed`` where
``distributed`` goes into the accumulator (delegators + dust), ``bond_delta`` is the operator
bond's movement under ``operator_first`` and ``unassigned`` is a result no delegator could share
(no weight at all in that epoch: it belongs to the operator).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from stakepool.ledger.accumulator import acc_step
from stakepool.ledger.fees import FeeState, operator_fee
from stakepool.ledger.policy import LedgerPolicy

WEI_PER_GWEI = 10**9


@dataclass(frozen=True, slots=True)
class ValidatorEpochRow:
    """What the ledger stores per pool validator and epoch (from the rewards helper)."""

    validator_index: int
    reward_gwei: int
    """The settlement r_v(k)."""
    components_gwei: dict[str, int] | None = None
    residual_gwei: int | None = None
    attestation_included: bool | None = None
    proposals: int = 0
    proposals_missed: int = 0


@dataclass(frozen=True, slots=True)
class EpochSettlementInput:
    epoch: int
    cl_reward_gwei: int
    """Σ_v r_v(k) over the pool's validators."""
    el_reward_wei: int | None
    """EL rewards of the epoch's pool proposals in wei; ``None``: unknown (counted as 0)."""
    validators: tuple[ValidatorEpochRow, ...] = ()
    input_digest: str = ""
    """Digest of what the figures were computed from (state roots, block roots, ...); empty: the
    digest of this input's own figures is used. A replay with the same digest is a no-op."""
    merged: tuple[int, int] | None = None
    """``(first, last)`` epoch of the merged window this epoch's figures are a share of (no node
    served the states in between; ``rewards.merging``); ``None``: settled from its own window."""

    def digest(self) -> str:
        if self.input_digest:
            return self.input_digest
        doc: dict[str, object] = {
            "epoch": self.epoch,
            "cl": self.cl_reward_gwei,
            "el": self.el_reward_wei,
            "validators": [asdict(v) for v in sorted(self.validators, key=_index)],
        }
        if self.merged is not None:  # only then: the digests of unmerged epochs stay as they were
            doc["merged"] = list(self.merged)
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _index(row: ValidatorEpochRow) -> int:
    return row.validator_index


@dataclass(frozen=True, slots=True)
class LedgerState:
    """Everything carried from one epoch to the next (one snapshot per settled epoch)."""

    acc_scaled: int = 0
    dust_scaled: int = 0
    """Σ of the accumulator's per-epoch rounding, scaled units."""
    el_carry_wei: int = 0
    """Sub-Gwei EL remainder: Σ gwei·10^9 + carry == Σ wei."""
    fee: FeeState = field(default_factory=FeeState)
    bond_used_gwei: int = 0
    """operator_first: losses the bond absorbed and has not got back yet."""

    def to_json(self) -> str:
        doc = {
            "acc_scaled": str(self.acc_scaled),
            "dust_scaled": str(self.dust_scaled),
            "el_carry_wei": str(self.el_carry_wei),
            "cumulative_net_gwei": str(self.fee.cumulative_net_gwei),
            "high_water_mark_gwei": str(self.fee.high_water_mark_gwei),
            "period_net_gwei": str(self.fee.period_net_gwei),
            "bond_used_gwei": str(self.bond_used_gwei),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LedgerState:
        doc: dict[str, Any] = json.loads(text)
        return cls(
            acc_scaled=int(doc["acc_scaled"]),
            dust_scaled=int(doc["dust_scaled"]),
            el_carry_wei=int(doc["el_carry_wei"]),
            fee=FeeState(
                int(doc["cumulative_net_gwei"]),
                int(doc["high_water_mark_gwei"]),
                int(doc["period_net_gwei"]),
            ),
            bond_used_gwei=int(doc["bond_used_gwei"]),
        )


@dataclass(frozen=True, slots=True)
class EpochSettlement:
    epoch: int
    reward_cl_gwei: int
    reward_el_gwei: int | None
    reward_gwei: int
    fee_gwei: int
    bond_delta_gwei: int
    unassigned_gwei: int
    distributed_gwei: int
    total_weight_gwei: int
    delegators: int
    acc_increment_scaled: int
    dust_delta_scaled: int
    """The accumulator's rounding this epoch, scaled units, in ``[0, total_weight)``."""


def wei_to_gwei(wei: int, carry_wei: int) -> tuple[int, int]:
    """Exact conversion with a carried sub-Gwei remainder: ``(gwei, new carry)``."""
    total = wei + carry_wei
    return total // WEI_PER_GWEI, total % WEI_PER_GWEI


def settle_epoch(
    state: LedgerState,
    inp: EpochSettlementInput,
    *,
    total_weight_gwei: int,
    delegators: int,
    policy: LedgerPolicy,
) -> tuple[EpochSettlement, LedgerState]:
    """Settle one epoch. O(1) in the number of delegators."""
    if total_weight_gwei < 0:
        raise ValueError(f"epoch {inp.epoch}: total weight {total_weight_gwei} < 0")
    carry = state.el_carry_wei
    el_gwei: int | None = None
    if inp.el_reward_wei is not None:
        if inp.el_reward_wei < 0:
            raise ValueError(f"epoch {inp.epoch}: EL reward {inp.el_reward_wei} wei < 0")
        el_gwei, carry = wei_to_gwei(inp.el_reward_wei, carry)
    reward = inp.cl_reward_gwei + (el_gwei or 0)

    fee, fee_state = operator_fee(inp.epoch, reward, state.fee, policy)
    distributable = reward - fee

    bond_delta = 0
    bond_used = state.bond_used_gwei
    if policy.loss_policy == "operator_first":
        if distributable < 0:
            take = min(policy.operator_bond_gwei - bond_used, -distributable)
            take = max(take, 0)
            bond_used += take
            bond_delta = -take
            distributable += take
        elif distributable > 0 and bond_used > 0:
            # The bond is made whole from later gains before delegators earn again.
            back = min(bond_used, distributable)
            bond_used -= back
            bond_delta = back
            distributable -= back

    unassigned = 0
    increment = dust = 0
    if total_weight_gwei == 0:
        unassigned, distributable = distributable, 0
    else:
        increment, dust = acc_step(distributable, total_weight_gwei)

    settlement = EpochSettlement(
        epoch=inp.epoch,
        reward_cl_gwei=inp.cl_reward_gwei,
        reward_el_gwei=el_gwei,
        reward_gwei=reward,
        fee_gwei=fee,
        bond_delta_gwei=bond_delta,
        unassigned_gwei=unassigned,
        distributed_gwei=distributable,
        total_weight_gwei=total_weight_gwei,
        delegators=delegators,
        acc_increment_scaled=increment,
        dust_delta_scaled=dust,
    )
    after = LedgerState(
        acc_scaled=state.acc_scaled + increment,
        dust_scaled=state.dust_scaled + dust,
        el_carry_wei=carry,
        fee=fee_state,
        bond_used_gwei=bond_used,
    )
    return settlement, after
