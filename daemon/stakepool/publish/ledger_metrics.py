"""The ledger's and the delivery path's Prometheus families (money in Gwei, MQTT, outbox).

Declared up front so dashboards and alert rules can rely on the names from the first scrape.
The ledger's families follow the ledger's facts on the event bus (``subscribe``: its totals, each
settled epoch's residuals, its lag); the MQTT publisher sets the delivery families as it runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from stakepool.chain.bus import EventBus
from stakepool.ledger.facts import (
    DelegationsHeld,
    EpochInputSettled,
    LedgerLag,
    LedgerPaused,
    WindowMerged,
)
from stakepool.ledger.queries import PoolTotals
from stakepool.ledger.settlement import ValidatorEpochRow

STATUSES = ("final", "provisional")
"""Disjoint: ``sum()`` over the label is the pool's total, counting no epoch twice."""


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        reg = registry
        self.rewards = Gauge(
            "stakepool_pool_rewards_gwei",
            "Cumulative pool rewards (consensus + known execution layer), Gwei, by the status of the"
            " epochs they were earned in (final or provisional); sum() over status is the total.",
            ["status"],
            registry=reg,
        )
        self.fees = Gauge(
            "stakepool_pool_fees_gwei",
            "Cumulative operator fees, Gwei; status as for stakepool_pool_rewards_gwei.",
            ["status"],
            registry=reg,
        )
        self.rewards_cl = Gauge(
            "stakepool_pool_rewards_cl_gwei",
            "The consensus-layer part of stakepool_pool_rewards_gwei, Gwei.",
            ["status"],
            registry=reg,
        )
        self.rewards_el = Gauge(
            "stakepool_pool_rewards_el_gwei",
            "The execution-layer part of stakepool_pool_rewards_gwei (known EL rewards only), Gwei.",
            ["status"],
            registry=reg,
        )
        for status in STATUSES:
            for family in (self.rewards, self.fees, self.rewards_cl, self.rewards_el):
                family.labels(status).set(0)
        self.delegators = Gauge(
            "stakepool_pool_delegators", "Delegators holding weight this epoch.", registry=reg
        )
        self.principal = Gauge(
            "stakepool_pool_principal_gwei", "Delegated principal this epoch, Gwei.", registry=reg
        )
        self.dust = Gauge(
            "stakepool_pool_dust_gwei",
            "Rounding units kept in the ledger's dust account, Gwei.",
            registry=reg,
        )
        self.settled_epoch = Gauge(
            "stakepool_ledger_settled_epoch",
            "Newest epoch settled in the ledger, by status (provisional or final).",
            ["status"],
            registry=reg,
        )
        self.lag = Gauge(
            "stakepool_ledger_lag_epochs",
            "Closed epochs the ledger has not settled yet: 1 in steady state (a window is settled"
            " once the next epoch closed); growing means settlement is blocked (see the"
            " ledger_window_unavailable log).",
            registry=reg,
        )
        self.delegations_held = Gauge(
            "stakepool_delegations_held",
            "1 while a delegations file change is held for a confirmation (it removes much of the"
            " pool's weight, or lists no delegations; see the delegations_held log).",
            registry=reg,
        )
        self.paused = Gauge(
            "stakepool_ledger_paused",
            "1 while settlement is paused because the ledger's database cannot write (its disk is"
            " full; see the ledger_paused log): monitoring and the API go on, settlement resumes"
            " by itself once there is room.",
            registry=reg,
        )
        self.merged_epochs = Counter(
            "stakepool_ledger_merged_epochs_total",
            "Epochs settled as shares of a merged window: no beacon node (nor archive) served"
            " their end states any more; exact over the span, not per epoch (see the"
            " ledger_window_merged event).",
            registry=reg,
        )
        self.residual_max = Gauge(
            "stakepool_rewards_residual_max_abs_gwei",
            "Largest |settlement - explanation| of one pool validator in the last explained epoch, Gwei.",
            registry=reg,
        )
        self.residual = Gauge(
            "stakepool_rewards_residual_gwei",
            "Sum of |settlement - explanation| over pool validators in the last explained epoch, Gwei.",
            registry=reg,
        )


def publish_pool_totals(metrics: LedgerMetrics, totals: PoolTotals) -> None:
    """The pool's totals (no per-delegator labels); the ledger's ``total`` includes ``final``, the
    series do not: ``provisional`` is the difference."""
    for family, amounts in (
        (metrics.rewards, totals.rewards_gwei),
        (metrics.fees, totals.fees_gwei),
        (metrics.rewards_cl, totals.rewards_cl_gwei),
        (metrics.rewards_el, totals.rewards_el_gwei),
    ):
        family.labels("final").set(amounts.final)
        family.labels("provisional").set(amounts.total - amounts.final)
    metrics.delegators.set(totals.delegators)
    metrics.principal.set(totals.principal_gwei.total)
    metrics.dust.set(totals.dust_gwei.total)
    if totals.last_settled_epoch is not None:
        metrics.settled_epoch.labels("provisional").set(totals.last_settled_epoch)
    if totals.last_final_epoch is not None:
        metrics.settled_epoch.labels("final").set(totals.last_final_epoch)


def publish_residual(metrics: LedgerMetrics, rows: Iterable[ValidatorEpochRow]) -> None:
    """Only an explained epoch moves the gauges: an unexplained one says nothing either way."""
    residuals = [abs(r.residual_gwei) for r in rows if r.residual_gwei is not None]
    if residuals:
        metrics.residual.set(sum(residuals))
        metrics.residual_max.set(max(residuals))


def subscribe(bus: EventBus, metrics: LedgerMetrics) -> None:
    bus.subscribe(PoolTotals, lambda totals: publish_pool_totals(metrics, totals))
    bus.subscribe(EpochInputSettled, lambda fact: publish_residual(metrics, fact.input.validators))
    bus.subscribe(LedgerLag, lambda fact: metrics.lag.set(max(0, fact.epochs)))
    bus.subscribe(
        DelegationsHeld, lambda fact: metrics.delegations_held.set(int(fact.digest is not None))
    )
    bus.subscribe(WindowMerged, lambda fact: metrics.merged_epochs.inc(fact.last - fact.first + 1))
    bus.subscribe(LedgerPaused, lambda fact: metrics.paused.set(int(fact.reason is not None)))


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        reg = registry
        self.mqtt_connected = Gauge(
            "stakepool_mqtt_connected", "1 while connected to the MQTT broker.", registry=reg
        )
        self.mqtt_published = Counter(
            "stakepool_mqtt_messages_published",
            "Messages the MQTT broker acknowledged.",
            registry=reg,
        )
        self.mqtt_failures = Counter(
            "stakepool_mqtt_publish_failures",
            "Publish attempts that failed (the message stays in the outbox).",
            registry=reg,
        )
        self.outbox_depth = Gauge(
            "stakepool_outbox_depth", "Events waiting in the outbox for the broker.", registry=reg
        )
        self.outbox_dropped = Counter(
            "stakepool_outbox_dropped",
            "Outbox events dropped because the outbox reached its bound.",
            registry=reg,
        )
