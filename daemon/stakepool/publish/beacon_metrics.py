"""Per-beacon-node families, read from ``BeaconClient.health()`` at scrape time.

The client already counts every request per node and route (``beacon/health.py``); exporting its
snapshot when Prometheus asks keeps one set of books, so the numbers cannot drift apart.
The ``node`` label is the configured URL with any ``user:password@`` removed (metrics are not
secret); the set of nodes and of route templates is fixed, so the cardinality is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from stakepool.beacon.health import DURATION_BUCKETS, NodeHealth
from stakepool.chain.redact import redact_text, split_userinfo


def node_label(url: str) -> str:
    """The URL without credentials: ``http://user:pw@host:5052`` → ``http://host:5052`` (and any
    credential query parameter masked): the shared redaction, applied to a label."""
    return redact_text(split_userinfo(url)[0])


def no_node_answers(nodes: Sequence[NodeHealth]) -> str | None:
    """``/readyz``'s reason when no node is up (each node's own, from the health probe or the
    last request), or None while one answers."""
    if any(n.up and n.excluded is None for n in nodes):
        return None
    down = "; ".join(f"{node_label(n.url)}: {n.excluded or n.down_reason or 'down'}" for n in nodes)
    return f"no beacon node reachable ({down})"


class BeaconHealthCollector:
    def __init__(self, health: Callable[[], Sequence[NodeHealth]]) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        nodes = self._health()
        up = GaugeMetricFamily(
            "stakepool_beacon_up",
            "1 while the beacon node answers at the transport level, 0 while it is unreachable, hung "
            "(no answer to the health probe) or excluded (e.g. on another chain).",
            labels=["node"],
        )
        score = GaugeMetricFamily(
            "stakepool_beacon_score",
            "Health score of the beacon node: +1 per success, -5 per failure, within 0-100.",
            labels=["node"],
        )
        last_success = GaugeMetricFamily(
            "stakepool_beacon_last_success_timestamp_seconds",
            "Unix time of the node's last successful answer (0: none yet).",
            labels=["node"],
        )
        requests = CounterMetricFamily(
            "stakepool_beacon_requests",
            "HTTP requests to the beacon node by route template (each attempt counts).",
            labels=["node", "route"],
        )
        errors = CounterMetricFamily(
            "stakepool_beacon_request_errors",
            "HTTP requests to the beacon node that failed (transport error or unusable answer).",
            labels=["node", "route"],
        )
        durations = HistogramMetricFamily(
            "stakepool_beacon_request_duration_seconds",
            "Duration of HTTP requests to the beacon node by route template.",
            labels=["node", "route"],
        )
        for node in nodes:
            name = node_label(node.url)
            up.add_metric([name], 1.0 if node.up and node.excluded is None else 0.0)
            score.add_metric([name], float(node.score))
            last_success.add_metric([name], node.last_success or 0.0)
            for route, stats in sorted(node.routes.items()):
                requests.add_metric([name, route], float(stats.count))
                errors.add_metric([name, route], float(stats.errors))
                buckets = [
                    (repr(float(bound)), float(count))  # 0.05 → '0.05', 1 → '1.0'
                    for bound, count in zip(DURATION_BUCKETS, stats.bucket_counts, strict=True)
                ]
                buckets.append(("+Inf", float(stats.count)))
                durations.add_metric([name, route], buckets, stats.seconds_total)
        yield from (up, score, last_success, requests, errors, durations)
