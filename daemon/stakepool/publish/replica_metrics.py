"""``stakepool_ledger_read_fallbacks_total`` and ``stakepool_ledger_read_replica_lag_seconds``:
the read replicas of a PostgreSQL ledger (``[ledger] read_urls``, ``store/replicas.py``).

A fallback is a read of the HTTP API or the web pages that the primary served because no replica
answered: a rate above zero means a replica is down or cut off (its warning names it). The lag is
how far behind the primary a replica's replay was when last measured (0: all it received is
replayed): readers see the ledger as it was that long ago.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stakepool.store.replicas import ReadReplicas


class ReplicaMetrics(Collector):
    def __init__(self, replicas: ReadReplicas, registry: CollectorRegistry) -> None:
        self._replicas = replicas
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "stakepool_ledger_read_fallbacks",
            "Reads of the HTTP API and web pages served by the primary because no read replica"
            " ([ledger] read_urls) answered.",
            value=self._replicas.fallbacks,
        )
        lag = GaugeMetricFamily(
            "stakepool_ledger_read_replica_lag_seconds",
            "How far behind the primary each read replica's replay was when last measured"
            " (0: everything received is replayed).",
            labels=["replica"],
        )
        for replica, seconds in self._replicas.lags().items():
            if not math.isnan(seconds):
                lag.add_metric([replica], seconds)
        yield lag
