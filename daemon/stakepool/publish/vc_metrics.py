"""Metrics of the validator clients whose keymanagers feed the pool (``vc`` label per client)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class ValidatorClientMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "stakepool_validator_client_up",
            "1 if the validator client's keymanager answered the last poll, else 0 (its last"
            " known keys are kept meanwhile).",
            ["vc"],
            registry=registry,
        )
        self.keys = Gauge(
            "stakepool_validator_client_keys",
            "Validator keys the validator client holds (local and remote), as last known.",
            ["vc"],
            registry=registry,
        )
        self.last_success = Gauge(
            "stakepool_validator_client_last_success_timestamp_seconds",
            "Unix time of the last good answer of the validator client's keymanager.",
            ["vc"],
            registry=registry,
        )
        self.members = Gauge(
            "stakepool_pool_members",
            "Validators in the pool now, from every key source (config and validator clients).",
            registry=registry,
        )

    def polled(self, vc: str, *, up: bool, keys: int | None, at: float | None) -> None:
        self.up.labels(vc).set(1 if up else 0)
        if keys is not None:
            self.keys.labels(vc).set(keys)
        if at is not None:
            self.last_success.labels(vc).set(at)
