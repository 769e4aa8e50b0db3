"""``stakepool verify``'s recomputation, pure: chain figures → pool rows → statements → root.

Shared with the daemon on purpose, because they *are* the published rules (docs/verify.md): the
fee and loss step ``ledger.settlement.settle_epoch`` (with ``ledger.fees``, ``ledger.accumulator``),
the delegations file format (``ledger.delegations``), the statement definition
(``ledger.statements``) and the leaf encoding and tree (``ledger.commitments``). Not shared: how
the chain is read and each validator's settlement computed (``verify_chain``), and everything the
daemon stores — this module gets its inputs from the beacon node and the delegations file only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stakepool.ledger.commitments import PeriodTree, period_tree
from stakepool.ledger.delegations import weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, LedgerState, settle_epoch
from stakepool.ledger.statements import PoolRow, Statement, range_figures, statement, takes_part

Schedules = Mapping[str, Sequence[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class ValidatorMoves:
    """What the chain says about one validator in window ``k`` (accounting.md §4.1)."""

    balance_start: int
    balance_end: int
    withdrawals: int
    deposits_included: int
    pending_start: int
    pending_end: int

    @property
    def reward(self) -> int:
        """``r_v(k) = ΔB + W − Dep`` with ``Dep = Q(k−1) + N(k) − Q(k)`` (queue identity)."""
        deposited = self.pending_start + self.deposits_included - self.pending_end
        return self.balance_end - self.balance_start + self.withdrawals - deposited


@dataclass(frozen=True, slots=True)
class Recomputed:
    rows: tuple[PoolRow, ...]
    """The pool's settled epochs from the ledger's first epoch to the period's last."""
    acc_after: Mapping[int, int]
    statements: tuple[Statement, ...]
    tree: PeriodTree


def recompute(
    *,
    first_epoch: int,
    period: int,
    period_epochs: int,
    rewards: Mapping[int, Mapping[int, int]],
    el_wei: Mapping[int, int | None],
    schedules: Schedules,
    policy: LedgerPolicy,
) -> Recomputed:
    """``rewards[k][v]``: each pool validator's ``r_v(k)`` for every epoch from ``first_epoch``
    to the period's last; ``el_wei[k]``: the epoch's EL reward in wei (``None``: unknown)."""
    period_first = period * period_epochs
    last = period_first + period_epochs - 1
    state = LedgerState()
    rows: list[PoolRow] = []
    acc: dict[int, int] = {}
    for k in range(first_epoch, last + 1):
        weights = [weight_at(s, k) for s in schedules.values()]
        settled, state = settle_epoch(
            state,
            EpochSettlementInput(k, sum(rewards[k].values()), el_wei.get(k)),
            total_weight_gwei=sum(weights),
            delegators=sum(1 for w in weights if w > 0),
            policy=policy,
        )
        acc[k] = state.acc_scaled
        rows.append(
            PoolRow(
                epoch=k,
                status="final",
                total_weight_gwei=settled.total_weight_gwei,
                reward_cl_gwei=settled.reward_cl_gwei,
                reward_el_gwei=settled.reward_el_gwei,
                reward_gwei=settled.reward_gwei,
                fee_gwei=settled.fee_gwei,
                bond_delta_gwei=settled.bond_delta_gwei,
                unassigned_gwei=settled.unassigned_gwei,
                distributed_gwei=settled.distributed_gwei,
            )
        )

    def acc_after(epoch: int) -> int:
        if epoch < first_epoch:
            return 0
        return acc[min(epoch, last)]

    start = max(period_first, first_epoch)
    figures = range_figures([r for r in rows if r.epoch >= start])
    statements = tuple(
        statement(d, s, figures, acc_after)
        for d, s in sorted(schedules.items())
        if takes_part(s, start, last)
    )
    return Recomputed(tuple(rows), acc, statements, period_tree(period, statements))


@dataclass(frozen=True, slots=True)
class Difference:
    epoch: int
    validator: int | None
    """``None``: a pool-level figure of the epoch."""
    what: str
    chain: int | None
    published: int | None

    def describe(self) -> str:
        where = f"epoch {self.epoch}" + (
            f", validator {self.validator}" if self.validator is not None else " (pool row)"
        )
        return f"{where}: {self.what} is {self.chain} from the chain, {self.published} published"


def first_validator_difference(
    chain: Mapping[int, Mapping[int, int]], published: Mapping[int, Mapping[int, int]]
) -> Difference | None:
    """The first ``(epoch, validator)`` whose settlement differs (a row missing on either side
    counts), in epoch then validator order."""
    for k in sorted(set(chain) | set(published)):
        mine, theirs = chain.get(k, {}), published.get(k, {})
        for v in sorted(set(mine) | set(theirs)):
            if mine.get(v) != theirs.get(v):
                return Difference(k, v, "the settlement r_v", mine.get(v), theirs.get(v))
    return None


POOL_FIELDS = (
    "reward_cl_gwei",
    "reward_gwei",
    "fee_gwei",
    "bond_delta_gwei",
    "unassigned_gwei",
    "distributed_gwei",
    "total_weight_gwei",
)


def first_pool_difference(
    rows: Sequence[PoolRow], published: Mapping[int, Mapping[str, int | None]]
) -> Difference | None:
    for row in rows:
        theirs = published.get(row.epoch)
        if theirs is None:
            return Difference(row.epoch, None, "the epoch row", row.reward_gwei, None)
        for name in POOL_FIELDS:
            mine = getattr(row, name)
            if theirs.get(name) != mine:
                return Difference(row.epoch, None, name, mine, theirs.get(name))
    return None
