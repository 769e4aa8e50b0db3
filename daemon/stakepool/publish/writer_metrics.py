"""``stakepool_ledger_writer{instance}``: 1 on the instance that writes the ledger, 0 on a standby.

Summed over the instances of one pool it must be 1: the alert rules fire when it is 0 for too
long (nobody settles) or above 1 (two report it: a fencing failure to investigate).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry, instance: str) -> None:
        self.instance = instance
        self.writer = Gauge(
            "stakepool_ledger_writer",
            "1 on the instance that settles the ledger, drains the outbox and accepts delegation"
            " writes (PostgreSQL, several instances); 0 on a standby.",
            ["instance"],
            registry=registry,
        )

    def set(self, is_writer: bool) -> None:
        self.writer.labels(instance=self.instance).set(1 if is_writer else 0)
