"""What each page shows, read through the ledger's read interface (``LedgerStore``), never SQL.

The amounts are the API's: the same store calls ``publish/api`` makes, formatted with the same
exact decimal helpers (``statement_format.eth``), so a figure on the page equals the API's figure.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange, LedgerStatus, PoolEpoch
from stakepool.ledger.statement_format import eth, statement_json
from stakepool.ledger.statement_queries import MAX_PERIODS, DelegatorProof, PeriodCommitment
from stakepool.ledger.store.interface import LedgerStore
from stakepool.publish.web.charts import Bar, bar_chart

CHART_EPOCHS = 120
"""Epochs in the per-epoch charts (the table and the API have the full range)."""
DAYS = 30
PROOF_LOOKBACK = 8
"""Committed periods searched back for the delegator's newest proof."""


def gwei(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}".replace(",", " ")


@dataclass(frozen=True, slots=True)
class Terms:
    policy: LedgerPolicy
    notice_period_epochs: int


@dataclass(slots=True)
class DayRewards:
    period: int
    first_epoch: int
    last_epoch: int
    reward_gwei: int = 0
    fee_gwei: int = 0
    epochs: int = 0
    provisional: bool = False


def rewards_per_day(rows: list[PoolEpoch], period_epochs: int) -> list[DayRewards]:
    days: dict[int, DayRewards] = {}
    for r in rows:
        p = r.epoch // period_epochs
        d = days.setdefault(p, DayRewards(p, r.epoch, r.epoch))
        d.first_epoch, d.last_epoch = min(d.first_epoch, r.epoch), max(d.last_epoch, r.epoch)
        d.reward_gwei += r.reward_gwei
        d.fee_gwei += r.fee_gwei
        d.epochs += 1
        d.provisional = d.provisional or r.status == "provisional"
    return [days[p] for p in sorted(days)][-DAYS:]


async def latest_commitment(store: LedgerStore) -> PeriodCommitment | None:
    status = await store.status()
    if status.last_final_epoch is None:
        return None
    last = status.last_final_epoch // store.period_epochs
    rows = await store.commitments(max(0, last - MAX_PERIODS + 1), last)
    return rows[-1] if rows else None


@dataclass(slots=True)
class PoolPage:
    totals: Any
    status: Any
    epochs: list[PoolEpoch]
    days: list[DayRewards]
    validators: int
    commitment: PeriodCommitment | None
    epoch_chart: Any = None
    day_chart: Any = None


class ValidatorCount:
    """``store.validators()`` passes over every validator row, so its count is kept per ledger
    version (settled and final epochs, reversals), as the API caches its summaries."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._count = 0

    async def get(self, store: LedgerStore, status: LedgerStatus) -> int:
        key = (status.last_settled_epoch, status.last_final_epoch, status.reversed_epochs)
        if key != self._key:
            self._count = len(await store.validators())
            self._key = key
        return self._count


async def pool_page(store: LedgerStore, validators: ValidatorCount) -> PoolPage:
    status = await store.status()
    totals = await store.pool_totals()
    rows = await store.pool_epochs(EpochRange())
    page = PoolPage(
        totals=totals,
        status=status,
        epochs=rows[-CHART_EPOCHS:],
        days=rewards_per_day(rows, store.period_epochs),
        validators=await validators.get(store, status),
        commitment=await latest_commitment(store),
    )
    page.epoch_chart = bar_chart(
        [Bar(f"epoch {r.epoch}", r.reward_gwei, f"{r.reward_gwei} Gwei") for r in page.epochs],
        name="pool reward per epoch, Gwei",
    )
    page.day_chart = bar_chart(
        [
            Bar(
                f"day {d.period} (epochs {d.first_epoch}–{d.last_epoch})",
                d.reward_gwei,
                f"{d.reward_gwei} Gwei",
            )
            for d in page.days
        ],
        name="pool reward per day, Gwei",
    )
    return page


@dataclass(slots=True)
class DelegatorPage:
    detail: Any
    statements: list[dict[str, Any]]
    cl_credit_gwei: int
    el_credit_gwei: int | None
    epochs: list[Any]
    chart: Any
    proof: DelegatorProof | None
    months: list[str] = field(default_factory=list)
    verify_command: str = ""


async def delegator_page(
    store: LedgerStore, delegator_id: str, *, policy: LedgerPolicy, api_url: str
) -> DelegatorPage | None:
    detail = await store.delegator(delegator_id)
    if detail is None:
        return None
    views = await store.statements(delegator_id, None, None) or []
    docs = [statement_json(v) for v in views]
    cl = sum(v.statement.cl_credit_gwei for v in views)
    el_values = [v.statement.el_credit_gwei for v in views]
    el = None if any(x is None for x in el_values) else sum(x for x in el_values if x is not None)
    rows = (await store.delegator_epochs(delegator_id, EpochRange())) or []
    rows = rows[-CHART_EPOCHS:]
    chart = bar_chart(
        [Bar(f"epoch {r.epoch}", r.credit_gwei, f"{r.credit_gwei} Gwei credited") for r in rows],
        name="credit per epoch, Gwei",
    )
    proof = None
    newest = await latest_commitment(store)
    if newest is not None:
        for period in range(newest.period, max(-1, newest.period - PROOF_LOOKBACK), -1):
            proof = await store.proof(delegator_id, period)
            if proof is not None:
                break
    page = DelegatorPage(
        detail=detail,
        statements=docs,
        cl_credit_gwei=cl,
        el_credit_gwei=el,
        epochs=rows,
        chart=chart,
        proof=proof,
    )
    if proof is not None:
        page.verify_command = verify_command(proof, delegator_id, policy=policy, api_url=api_url)
    return page


def verify_command(
    proof: DelegatorProof, delegator_id: str, *, policy: LedgerPolicy, api_url: str
) -> str:
    terms = (
        f"fee_bps={policy.fee_bps},fee_mode={policy.fee_mode},loss_policy={policy.loss_policy},"
        f"operator_bond_gwei={policy.operator_bond_gwei},fee_period_epochs={policy.fee_period_epochs}"
    )
    return " ".join(
        [
            "stakepool verify",
            f"--period {proof.commitment.period}",
            "--beacon http://YOUR-BEACON-NODE:5052",
            "--delegations delegations.toml",
            f"--policy {shlex.quote(terms)}",
            f"--api {shlex.quote(api_url)}",
            f"--delegator {shlex.quote(delegator_id)}",
        ]
    )


__all__ = ["eth", "gwei"]
