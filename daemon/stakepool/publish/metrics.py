"""The daemon's Prometheus registry: every ``stakepool_*`` family, and typed ways to update them.

``Metrics`` owns its own ``CollectorRegistry`` (never the process-global one, so tests and two
daemons in one process never share series). Besides the standard ``process_*`` and ``python_*``
families, ``stakepool_*`` families fall in these groups:

- chain and progress gauges set by the supervisor (head, checkpoints, last processed epoch,
  validators by status, event-loop lag, build info);
- per-beacon-node families read from the client's health snapshot at scrape time
  (``beacon_metrics.BeaconHealthCollector``);
- duty outcomes, per validator or per operator group: the monitor's ``DutyTallies`` read by
  ``duty_metrics.DutyMetrics`` at scrape time;
- the pool's balances per validator or group, and the validator → operator group map
  (``balance_metrics.BalanceMetrics``, read at scrape time);
- money and delivery (``ledger_metrics``: pool rewards, fees, delegators, MQTT, outbox).

Names follow conventions.md §2a; the table in docs/metrics.md is the public list.
"""

from __future__ import annotations

import platform
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

from stakepool import __version__
from stakepool.beacon.health import NodeHealth
from stakepool.beacon.models.state import ValidatorStatus
from stakepool.chain.types import Gwei, ValidatorIndex
from stakepool.monitor.tallies import DutyTallies
from stakepool.monitor.tally_keys import TallyKeys
from stakepool.publish.balance_metrics import BalanceMetrics
from stakepool.publish.beacon_metrics import BeaconHealthCollector
from stakepool.publish.disk_metrics import DiskMetrics
from stakepool.publish.duty_metrics import DutyMetrics
from stakepool.publish.ledger_metrics import DeliveryMetrics, LedgerMetrics

LOOP_LAG_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    def __init__(
        self,
        *,
        per_validator_limit: int = 64,
        pool_id: str = "pool",
        duties: DutyTallies | None = None,
    ) -> None:
        # `_created` series only double the output and confuse `increase()` users. The library
        # offers only a process-wide switch; every registry in this process wants it off anyway.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
        self.registry = CollectorRegistry()
        self.per_validator_limit = per_validator_limit
        reg = self.registry
        # The standard process_* and python_* families every exporter has (memory, CPU, open
        # files, GC): on our own registry, since the process-global one is never served.
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)

        Gauge(
            "stakepool_build_info",
            "Always 1; the labels say which stakepool and Python run.",
            ["version", "python"],
            registry=reg,
        ).labels(__version__, platform.python_version()).set(1)
        Gauge(
            "stakepool_pool_info",
            "Always 1; the pool label is the configured [pool] id (join on instance to use it).",
            ["pool"],
            registry=reg,
        ).labels(pool_id).set(1)
        self.head_slot = Gauge("stakepool_head_slot", "Slot of the head block.", registry=reg)
        self.head_epoch = Gauge("stakepool_head_epoch", "Epoch of the head slot.", registry=reg)
        self.justified_epoch = Gauge(
            "stakepool_justified_epoch", "Current justified checkpoint epoch.", registry=reg
        )
        self.finalized_epoch = Gauge(
            "stakepool_finalized_epoch", "Finalized checkpoint epoch.", registry=reg
        )
        self.last_processed_epoch = Gauge(
            "stakepool_last_processed_epoch",
            "The newest epoch the daemon has fully processed.",
            registry=reg,
        )
        self.last_processed_timestamp = Gauge(
            "stakepool_last_processed_epoch_timestamp_seconds",
            "Unix time at which the last processed epoch was finished.",
            registry=reg,
        )
        self.loop_lag = Histogram(
            "stakepool_event_loop_lag_seconds",
            "How late the event loop wakes a short sleep: time the loop spent blocked.",
            buckets=LOOP_LAG_BUCKETS,
            registry=reg,
        )
        self.pool_validators = Gauge(
            "stakepool_pool_validators",
            "Pool validators by beacon-chain status (at the last processed epoch).",
            ["status"],
            registry=reg,
        )
        for status in ValidatorStatus:
            self.pool_validators.labels(status.value).set(0)
        self.slashed_validators = Gauge(
            "stakepool_slashed_validators",
            "Pool validators whose slashed flag is set (at the last processed epoch).",
            registry=reg,
        )
        self.duties = duties if duties is not None else DutyTallies()
        """The monitor's tallies (the monitor counts, the scrape reads)."""
        reg.register(DutyMetrics(self.duties))
        self.balances = BalanceMetrics(lambda: self.duties.keys)
        reg.register(self.balances)
        self.ledger = LedgerMetrics(reg)
        self.delivery = DeliveryMetrics(reg)
        self.disk = DiskMetrics(reg)
        self._beacon: BeaconHealthCollector | None = None

    # --- wiring ----------------------------------------------------------------------------------

    def watch_beacon(self, health: Callable[[], Sequence[NodeHealth]]) -> None:
        """Export the per-node families from ``health()`` (``BeaconClient.health``) at scrape time."""
        if self._beacon is not None:
            self.registry.unregister(self._beacon)
        self._beacon = BeaconHealthCollector(health)
        self.registry.register(self._beacon)

    def set_pool(self, members: Iterable[tuple[int, str | None]]) -> TallyKeys:
        """The pool's ``(index, label)`` pairs; decides per-validator vs per-group series."""
        keys = TallyKeys.for_pool(members, self.per_validator_limit)
        self.duties.configure(keys)
        return keys

    # --- updates ---------------------------------------------------------------------------------

    def set_head(self, slot: int, epoch: int) -> None:
        self.head_slot.set(slot)
        self.head_epoch.set(epoch)

    def set_checkpoints(self, justified_epoch: int, finalized_epoch: int) -> None:
        self.justified_epoch.set(justified_epoch)
        self.finalized_epoch.set(finalized_epoch)

    def set_epoch_processed(self, epoch: int, at: float | None = None) -> None:
        self.last_processed_epoch.set(epoch)
        self.last_processed_timestamp.set(time.time() if at is None else at)

    def set_validator_statuses(self, statuses: Iterable[ValidatorStatus], *, slashed: int) -> None:
        """Every pool validator's status (all nine series are always present) and the slashed count."""
        tally = Tally(statuses)
        for status in ValidatorStatus:
            self.pool_validators.labels(status.value).set(tally.get(status, 0))
        self.slashed_validators.set(slashed)

    def set_balances(self, balances: Mapping[ValidatorIndex, Gwei]) -> None:
        """The pool's balances at the last processed epoch (per validator or group, the total)."""
        self.balances.update(balances)

    def observe_loop_lag(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)

    # --- exposition ------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition (what ``/metrics`` serves)."""
        return generate_latest(self.registry)
