"""Where every monitor event goes: one structured log line, the metrics, and the observers.

Events arrive already de-duplicated by the trackers, so this sink does not filter; it maps each
kind to its counter (the one critical alert of a slashing counts as ``slashing_evidence``; a
proposal verdict counts once, when first reported) and logs at the event's severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from stakepool.monitor.eventbase import MonitorEvent, Severity
from stakepool.monitor.events import (
    BlockMissed,
    BlockOrphaned,
    BlockProposed,
    DoppelgangerDetected,
    SlashingEvidence,
    UnexpectedBlsChange,
    UnexpectedExit,
    ValidatorSlashed,
)
from stakepool.publish.duty_metrics import DutyMetrics, ProposalOutcome, UnexpectedOperation
from stakepool.report import Observer

log = structlog.get_logger("stakepool.monitor")

_PROPOSAL_OUTCOME: dict[type[MonitorEvent], ProposalOutcome] = {
    BlockProposed: ProposalOutcome.PROPOSED,
    BlockMissed: ProposalOutcome.MISSED,
    BlockOrphaned: ProposalOutcome.ORPHANED,
}


class EventSink:
    def __init__(self, duties: DutyMetrics, observers: Sequence[Observer]) -> None:
        self._duties = duties
        self._observers = observers

    def emit(self, events: Iterable[MonitorEvent]) -> None:
        """Count and tell at once (no persistence in between)."""
        events = list(events)
        self.count(events)
        self.tell(events)

    def count(self, events: Iterable[MonitorEvent]) -> None:
        """The counters, first: they are saved with the state, before the events are told."""
        for event in events:
            self._count(event)

    def tell(self, events: Iterable[MonitorEvent]) -> None:
        """The log line and the observers, once the events are safely stored."""
        for event in events:
            self._log(event)
            for obs in self._observers:
                obs.monitor_event(event)

    def _count(self, event: MonitorEvent) -> None:
        d = self._duties
        if isinstance(event, BlockProposed | BlockMissed | BlockOrphaned):
            # A revised verdict (``proposal_changed`` then the new verdict) counts the new one too:
            # counters cannot move back, so the old one stays — the event log tells the story.
            d.record_proposal(event.validator_index, _PROPOSAL_OUTCOME[type(event)])
        elif isinstance(event, SlashingEvidence | ValidatorSlashed):
            d.record_slashing_evidence(event.validator_index)
        elif isinstance(event, DoppelgangerDetected):
            d.record_doppelganger(event.validator_index)
        elif isinstance(event, UnexpectedExit):
            d.record_unexpected_operation(event.validator_index, UnexpectedOperation.VOLUNTARY_EXIT)
        elif isinstance(event, UnexpectedBlsChange):
            d.record_unexpected_operation(
                event.validator_index, UnexpectedOperation.BLS_TO_EXECUTION_CHANGE
            )

    def _log(self, event: MonitorEvent) -> None:
        fields = event.to_dict()
        fields.pop("severity", None)
        kind = fields.pop("kind")
        match event.severity:
            case Severity.CRITICAL:
                log.critical(kind, **fields)
            case Severity.WARNING:
                log.warning(kind, **fields)
            case _:
                log.info(kind, **fields)
