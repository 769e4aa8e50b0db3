"""The PromQL scanner the dashboard tests rely on finds metrics, and only metrics."""

from __future__ import annotations

import pytest

from tests.unit.deploy.promql import (
    PromQLError,
    Selector,
    grafana_variable_expr,
    metric_names,
    selectors,
)


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        ("up", {"up"}),
        ('stakepool_head_epoch{instance=~"$instance"}', {"stakepool_head_epoch"}),
        (
            'sum by (node, route) (rate(stakepool_beacon_requests_total{instance=~"$instance"}[$__rate_interval]))',
            {"stakepool_beacon_requests_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) / 1e9",
            {"x_bucket"},
        ),
        ("sum(a) without (instance, job) - on (pool) group_left (version) b", {"a", "b"}),
        ("time() - max(stakepool_x_timestamp_seconds > 0)", {"stakepool_x_timestamp_seconds"}),
        ("a offset 1h30m and bool b or c unless d", {"a", "b", "c", "d"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', {"a"}),
        ('a{label="contains } and ] and sum("}', {"a"}),
        ('count_values("v", a) * .5 + 0x1F - inf', {"a"}),
        ("vector(1)", set()),
    ],
)
def test_metric_names(expr: str, metrics: set[str]) -> None:
    assert metric_names(expr) == metrics


def test_selectors_keep_their_matchers() -> None:
    assert selectors('a{x="1"} / b') == [Selector("a", 'x="1"'), Selector("b", None)]


@pytest.mark.parametrize(
    "expr",
    ["sum(rate(a[5m]", 'a{x="1}', "frobnicate(a)", '{__name__="a"}'],
)
def test_unreadable_expressions_are_errors(expr: str) -> None:
    with pytest.raises(PromQLError):
        selectors(expr)


def test_grafana_variable_queries() -> None:
    assert grafana_variable_expr("label_values(stakepool_pool_info, pool)") == "stakepool_pool_info"
    assert (
        grafana_variable_expr('label_values(a{pool=~"$pool", x="a,b"}, instance)')
        == 'a{pool=~"$pool", x="a,b"}'
    )
    assert grafana_variable_expr("label_values(instance)") is None
    assert grafana_variable_expr("query_result(max(a))") == "max(a)"
    with pytest.raises(PromQLError):
        grafana_variable_expr("metrics(stakepool_.*)")
