"""Set the ledger's Prometheus gauges from the store's figures (no per-delegator labels)."""

from __future__ import annotations

from collections.abc import Iterable

from stakepool.ledger.queries import PoolTotals
from stakepool.ledger.settlement import ValidatorEpochRow
from stakepool.publish.ledger_metrics import LedgerMetrics


def publish_pool_totals(metrics: LedgerMetrics, totals: PoolTotals) -> None:
    for status, rewards, fees in (
        ("final", totals.rewards_gwei.final, totals.fees_gwei.final),
        ("total", totals.rewards_gwei.total, totals.fees_gwei.total),
    ):
        metrics.rewards.labels(status).set(rewards)
        metrics.fees.labels(status).set(fees)
    for status, cl, el in (
        ("final", totals.rewards_cl_gwei.final, totals.rewards_el_gwei.final),
        ("total", totals.rewards_cl_gwei.total, totals.rewards_el_gwei.total),
    ):
        metrics.rewards_cl.labels(status).set(cl)
        metrics.rewards_el.labels(status).set(el)
    metrics.delegators.set(totals.delegators)
    metrics.principal.set(totals.principal_gwei.total)
    metrics.dust.set(totals.dust_gwei.total)
    if totals.last_settled_epoch is not None:
        metrics.settled_epoch.labels("provisional").set(totals.last_settled_epoch)
    if totals.last_final_epoch is not None:
        metrics.settled_epoch.labels("final").set(totals.last_final_epoch)


def residual_sum(rows: Iterable[ValidatorEpochRow]) -> int | None:
    """Σ |residual| over the rows that could be explained; ``None`` if none could."""
    residuals = [abs(r.residual_gwei) for r in rows if r.residual_gwei is not None]
    return sum(residuals) if residuals else None


def publish_residual(metrics: LedgerMetrics, rows: Iterable[ValidatorEpochRow]) -> None:
    """Only an explained epoch moves the gauges: an unexplained one says nothing either way."""
    residuals = [abs(r.residual_gwei) for r in rows if r.residual_gwei is not None]
    if residuals:
        metrics.residual.set(sum(residuals))
        metrics.residual_max.set(max(residuals))
