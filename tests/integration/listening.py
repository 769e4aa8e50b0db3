"""Test recorders on the daemon's event bus: ``run_daemon(..., listeners=[listen(recorder)])``.

A recorder is a plain object with any of ``started(spec, members, nodes)``, ``head(view)``,
``epoch(report)``, ``monitor_event(event)``, ``duties(digest)`` and ``ledger(report)``; ``listen``
subscribes the ones it has, as the faces of the daemon subscribe theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stakepool.chain.bus import EventBus
from stakepool.ledger.facts import LedgerReport
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView


def listen(recorder: Any) -> Callable[[EventBus], None]:
    def subscribe(bus: EventBus) -> None:
        if hasattr(recorder, "started"):
            bus.subscribe(Started, lambda f: recorder.started(f.spec, f.members, list(f.nodes)))
        for kind, name in (
            (HeadView, "head"),
            (EpochReport, "epoch"),
            (MonitorEvent, "monitor_event"),
            (EpochDuties, "duties"),
            (LedgerReport, "ledger"),
        ):
            handler = getattr(recorder, name, None)
            if handler is not None:
                bus.subscribe(kind, handler)

    return subscribe
