"""The structured log as a face: one line per fact the daemon tells, at its severity.

Subscribed first in the composition root, so a line is written before any other face shows the
same fact. Monitor events are logged with every field and their ``event_id`` (a consumer can match
a log line to an MQTT message); the head is logged at debug level only (one line a slot).
"""

from __future__ import annotations

import structlog

from stakepool.chain.bus import EventBus
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent, Severity
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView
from stakepool.publish.console import duty_lines

log = structlog.get_logger("stakepool")
monitor_log = structlog.get_logger("stakepool.monitor")


def subscribe(bus: EventBus) -> None:
    bus.subscribe(Started, started)
    bus.subscribe(HeadView, head)
    bus.subscribe(EpochReport, epoch)
    bus.subscribe(MonitorEvent, monitor_event)
    bus.subscribe(EpochDuties, duties)


def started(fact: Started) -> None:
    spec = fact.spec
    log.info(
        "started",
        nodes=list(fact.nodes),
        network=spec.config_name or spec.preset_base,
        genesis_validators_root=spec.genesis_validators_root,
        slots_per_epoch=spec.slots_per_epoch,
        slot_duration_ms=spec.slot_duration_ms,
        pool_validators=len(fact.members),
    )


def head(view: HeadView) -> None:
    log.debug("head", view=view)


def epoch(report: EpochReport) -> None:
    log.info(
        "epoch_closed",
        epoch=report.epoch,
        state_slot=report.state_slot,
        finalized_epoch=report.head.finalized_epoch,
        pool_balance_gwei=report.total,
        pool_balance_change_gwei=report.change,
        validators=len(report.balances),
    )


def monitor_event(event: MonitorEvent) -> None:
    fields = event.to_dict()
    fields.pop("severity", None)
    kind = fields.pop("kind")
    match event.severity:
        case Severity.CRITICAL:
            monitor_log.critical(kind, **fields)
        case Severity.WARNING:
            monitor_log.warning(kind, **fields)
        case _:
            monitor_log.info(kind, **fields)


def duties(report: EpochDuties) -> None:
    log.info("epoch_duties", epoch=report.epoch, summary=duty_lines(report))
