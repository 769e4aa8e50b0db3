"""Reading the shipped Grafana dashboard: its panels, their queries, its variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.unit.deploy.chartkit import REPO
from tests.unit.deploy.promql import grafana_variable_expr

DASHBOARD = REPO / "deploy" / "grafana" / "stakepool.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Query:
    where: str  # "panel 'Title' A" or "variable pool"
    expr: str


def load() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> list[Query]:
    """Every PromQL expression: panel targets and query variables."""
    found = [
        Query(f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        expr = grafana_variable_expr(text)
        if expr is not None:
            found.append(Query(f"variable {variable['name']}", expr))
    return found
