"""An event bus with the ledger's metrics subscribed, as the composition root wires it."""

from __future__ import annotations

from stakepool.chain.bus import EventBus
from stakepool.publish import ledger_metrics
from stakepool.publish.ledger_metrics import LedgerMetrics


def ledger_bus(metrics: LedgerMetrics) -> EventBus:
    bus = EventBus()
    ledger_metrics.subscribe(bus, metrics)
    return bus
