"""The observers the supervisor always has: the structured log, and the ledger's duty feed."""

from __future__ import annotations

import structlog

from stakepool.chain.spec import ChainSpec
from stakepool.money import MoneyPath
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.pool import PoolMember
from stakepool.report import EpochReport, duty_lines

log = structlog.get_logger("stakepool")


class LogObserver:
    """The structured log is always told; other observers (the demo's console) come on top."""

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        log.info(
            "started",
            nodes=nodes,
            network=spec.config_name or spec.preset_base,
            genesis_validators_root=spec.genesis_validators_root,
            slots_per_epoch=spec.slots_per_epoch,
            slot_duration_ms=spec.slot_duration_ms,
            pool_validators=len(members),
        )

    def head(self, view: object) -> None:
        log.debug("head", view=view)

    def epoch(self, report: EpochReport) -> None:
        log.info(
            "epoch_closed",
            epoch=report.epoch,
            state_slot=report.state_slot,
            finalized_epoch=report.head.finalized_epoch,
            pool_balance_gwei=report.total,
            pool_balance_change_gwei=report.change,
            validators=len(report.balances),
        )

    def monitor_event(self, event: MonitorEvent) -> None:
        pass  # the monitor's sink already logs every event, at its severity

    def duties(self, report: EpochDuties) -> None:
        log.info("epoch_duties", epoch=report.epoch, summary=duty_lines(report))


class DutiesToLedger:
    """Hands the monitor's per-epoch digests to the ledger feed (rows carry duty outcomes)."""

    def __init__(self, money: MoneyPath) -> None:
        self.money = money

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        pass

    def head(self, view: object) -> None:
        pass

    def epoch(self, report: EpochReport) -> None:
        pass

    def monitor_event(self, event: MonitorEvent) -> None:
        pass

    def duties(self, report: EpochDuties) -> None:
        self.money.on_duties(report)
