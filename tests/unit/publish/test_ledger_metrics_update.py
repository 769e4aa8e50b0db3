"""The ledger's gauges carry the pool totals (no per-delegator series)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from stakepool.ledger.queries import FinalTotal, PoolTotals
from stakepool.ledger.settlement import ValidatorEpochRow
from stakepool.publish.ledger_metrics import LedgerMetrics, publish_pool_totals, publish_residual


def test_pool_totals_and_residual_reach_the_gauges() -> None:
    registry = CollectorRegistry()
    metrics = LedgerMetrics(registry)
    pair = FinalTotal
    publish_pool_totals(
        metrics,
        PoolTotals(
            pool_id="p",
            delegators=6,
            principal_gwei=pair(128, 130),
            rewards_gwei=pair(10, 93_887_855),
            fees_gwei=pair(1, 10_166_328),
            dust_gwei=pair(0, 3),
            distributed_gwei=pair(9, 83_721_527),
            last_settled_epoch=1005,
            last_final_epoch=1002,
            rewards_cl_gwei=pair(10, 37_887_855),
            rewards_el_gwei=pair(0, 56_000_000),
            operator_bond_delta_gwei=pair(0, 0),
            unassigned_gwei=pair(0, 0),
        ),
    )
    publish_residual(
        metrics,
        [
            ValidatorEpochRow(1, 5, None, None),
            ValidatorEpochRow(2, 5, {}, -4),
            ValidatorEpochRow(3, 5, {}, 1),
        ],
    )

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    # Disjoint statuses: summing over the label gives the total, no epoch counted twice.
    assert value("stakepool_pool_rewards_gwei", status="provisional") == 93_887_855 - 10
    assert value("stakepool_pool_rewards_gwei", status="total") is None
    for family, total in (
        ("stakepool_pool_rewards_gwei", 93_887_855),
        ("stakepool_pool_fees_gwei", 10_166_328),
        ("stakepool_pool_rewards_cl_gwei", 37_887_855),
        ("stakepool_pool_rewards_el_gwei", 56_000_000),
    ):
        statuses = ("final", "provisional")
        assert sum(value(family, status=s) or 0 for s in statuses) == total, family
    assert value("stakepool_pool_fees_gwei", status="final") == 1
    assert value("stakepool_pool_dust_gwei") == 3
    assert value("stakepool_pool_principal_gwei") == 130
    assert value("stakepool_ledger_settled_epoch", status="final") == 1002
    assert value("stakepool_rewards_residual_gwei") == 5
    assert value("stakepool_rewards_residual_max_abs_gwei") == 4
    assert value("stakepool_pool_rewards_el_gwei", status="provisional") == 56_000_000
    assert value("stakepool_pool_rewards_cl_gwei", status="final") == 10

    publish_residual(metrics, [ValidatorEpochRow(1, 5, None, None)])  # unexplained: unchanged
    assert value("stakepool_rewards_residual_max_abs_gwei") == 4
