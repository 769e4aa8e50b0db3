"""What the web page shows of the monitor: duty outcomes per day and the current alerts.

``DutyHistory`` subscribes to the bus (``EpochDuties`` and ``MonitorEvent``, the monitor's own
read path to its faces) and folds each closed epoch into the bucket of its statement period
(``[ledger] statement_period_epochs``, 225 epochs = one mainnet day), so "a day" on the page is the
same span as a daily statement. Kept in memory for ``MAX_DAYS`` buckets since the daemon started:
the page shows the history it has seen; the durable counts stay the monitor's Prometheus tallies.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from stakepool.chain.bus import EventBus
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent, Severity
from stakepool.monitor.verdicts import ProposalVerdict

MAX_DAYS = 30
MAX_ALERTS = 50


@dataclass(slots=True)
class DayDuties:
    period: int
    first_epoch: int
    last_epoch: int
    attestation_duties: int = 0
    attestations_included: int = 0
    timely_source: int = 0
    timely_target: int = 0
    timely_head: int = 0
    proposed: int = 0
    missed: int = 0
    orphaned: int = 0
    sync_expected: int = 0
    sync_signed: int = 0

    def add(self, duties: EpochDuties) -> None:
        self.first_epoch = min(self.first_epoch, int(duties.epoch))
        self.last_epoch = max(self.last_epoch, int(duties.epoch))
        if duties.attestations is not None:
            s = duties.attestations.summary
            self.attestation_duties += s.duties
            self.attestations_included += s.included
            self.timely_source += s.timely_source
            self.timely_target += s.timely_target
            self.timely_head += s.timely_head
        for _slot, _index, verdict in duties.proposals:
            if verdict is ProposalVerdict.PROPOSED:
                self.proposed += 1
            elif verdict is ProposalVerdict.MISSED:
                self.missed += 1
            elif verdict is ProposalVerdict.ORPHANED:
                self.orphaned += 1
        if duties.sync is not None:
            self.sync_expected += duties.sync.expected
            self.sync_signed += duties.sync.signed


@dataclass(frozen=True, slots=True)
class Alert:
    severity: str
    kind: str
    epoch: int
    validator_index: int | None
    text: str


def _shown(value: object) -> str | None:
    """A field as the alert's text shows it: scalars as they are, a flat list of scalars (the
    validators a warning names) comma-separated; nested shapes are left to the API and MQTT."""
    if isinstance(value, dict):
        return None
    if isinstance(value, list):
        if not all(isinstance(v, int | str) or v is None for v in value):
            return None
        return ",".join(str(v) for v in value)
    return str(value)


class DutyHistory:
    def __init__(self, period_epochs: int) -> None:
        self.period_epochs = period_epochs
        self._days: dict[int, DayDuties] = {}
        self.alerts: deque[Alert] = deque(maxlen=MAX_ALERTS)

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(EpochDuties, self.on_duties)
        bus.subscribe(MonitorEvent, self.on_event)

    def on_duties(self, duties: EpochDuties) -> None:
        epoch = int(duties.epoch)
        period = epoch // self.period_epochs
        day = self._days.get(period)
        if day is None:
            day = self._days[period] = DayDuties(period, epoch, epoch)
            for old in sorted(self._days)[:-MAX_DAYS]:
                del self._days[old]
        day.add(duties)

    def on_event(self, event: MonitorEvent) -> None:
        if event.severity is Severity.INFO:
            return
        where = event.coordinates
        doc = event.to_dict()
        details = ", ".join(
            f"{k}={_shown(v)}"
            for k, v in doc.items()
            if k not in {"kind", "severity", "event_id", "epoch", "validator_index"}
            and _shown(v) is not None
        )
        self.alerts.appendleft(
            Alert(
                severity=str(event.severity),
                kind=str(event.kind),
                epoch=int(where.epoch),
                validator_index=None
                if where.validator_index is None
                else int(where.validator_index),
                text=details[:300],
            )
        )

    def days(self) -> list[DayDuties]:
        """Newest first."""
        return [self._days[p] for p in sorted(self._days, reverse=True)]
