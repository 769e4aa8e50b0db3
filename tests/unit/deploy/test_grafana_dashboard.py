"""The shipped Grafana dashboard: portable (datasource variable), well formed, and complete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.chartkit import CHART
from tests.unit.deploy.dashboard import DASHBOARD, DATASOURCE, load, panels, queries
from tests.unit.deploy.promql import metric_names, selectors

INSTANCE = 'instance=~"$instance"'


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_the_datasource_is_a_variable_of_prometheus_datasources() -> None:
    dashboard = load()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    assert datasource["current"] == {}  # nothing from the machine it was exported on
    assert "__inputs" not in dashboard  # importable as is, and by the Grafana sidecar


def test_every_query_uses_the_datasource_variable_and_no_fixed_uid() -> None:
    dashboard = load()
    for node in _walk(dashboard):
        if "datasource" in node and node.get("type") != "dashboard":  # the built-in annotations
            assert node["datasource"] == DATASOURCE, node.get("title", node.get("refId"))
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    assert "${DS_" not in DASHBOARD.read_text()


def test_panels_are_laid_out_on_the_grid_without_overlap() -> None:
    dashboard = load()
    all_panels = list(panels(dashboard))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in all_panels]
    assert len(titles) == len(set(titles)), "two panels with one title cannot be told apart"
    taken: set[tuple[int, int]] = set()
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']!r} overlaps another panel"
        taken |= cells
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]


def test_every_metric_selector_follows_the_instance_variable() -> None:
    """Several sidecars in one Prometheus: every panel shows only the chosen instances."""
    for query in queries(load()):
        if query.where == "variable pool" or query.where == "variable instance":
            continue
        for selector in selectors(query.expr):
            assert selector.matchers is not None, query
            assert INSTANCE in selector.matchers, query


@pytest.mark.parametrize(
    ("topic", "metric"),
    [
        ("pool rewards", "stakepool_pool_rewards_gwei"),
        ("operator fees", "stakepool_pool_fees_gwei"),
        ("delegators", "stakepool_pool_delegators"),
        ("principal", "stakepool_pool_principal_gwei"),
        ("ledger settlement", "stakepool_ledger_settled_epoch"),
        ("attestation misses", "stakepool_attestations_total"),
        ("missed streaks", "stakepool_attestation_missed_streak"),
        ("proposals", "stakepool_proposals_total"),
        ("sync participation", "stakepool_sync_committee_participation_ratio"),
        ("slashing", "stakepool_slashed_validators"),
        ("slashing evidence", "stakepool_slashing_evidence_total"),
        ("doppelgangers now", "stakepool_doppelganger_detected"),
        ("doppelganger detections", "stakepool_doppelganger_detections_total"),
        ("beacon node health", "stakepool_beacon_up"),
        ("beacon errors", "stakepool_beacon_request_errors_total"),
        ("processing lag", "stakepool_last_processed_epoch"),
        ("finality", "stakepool_finalized_epoch"),
        ("mqtt", "stakepool_mqtt_connected"),
        ("outbox", "stakepool_outbox_depth"),
    ],
)
def test_the_dashboard_covers(topic: str, metric: str) -> None:
    used = set().union(*(metric_names(q.expr) for q in queries(load())))
    assert metric in used, f"no panel shows {topic}"


def test_the_chart_ships_the_same_dashboard() -> None:
    assert (CHART / "files" / "stakepool.json").read_bytes() == DASHBOARD.read_bytes()
