"""The ledger's and the delivery path's Prometheus families (money in Gwei, MQTT, outbox).

Declared up front so dashboards and alert rules can rely on the names from the first scrape;
the ledger and the MQTT publisher set them as they run.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

STATUSES = ("final", "total")


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        reg = registry
        self.rewards = Gauge(
            "stakepool_pool_rewards_gwei",
            "Cumulative pool rewards (consensus + known execution layer), Gwei; status=final counts"
            " final epochs only, status=total adds the provisional ones.",
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
