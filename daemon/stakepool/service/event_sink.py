"""Where the daemon's own events (``monitor/daemon_events``) are raised: the outbox, then the bus.

The monitor's events go through ``MonitorKeeper.save``; the events of the validator clients, the
witness and the refused windows come from tasks of their own, so they get this: ``emit`` writes the
state the events describe (``write``, may be None when nothing is kept) and the events' outbox rows
in ONE transaction, then tells them on the bus (log line, web page, console) and wakes the MQTT
publisher. An event is never sent for state that was not saved; a replay enqueues nothing twice
(deterministic ``event_id``, ``INSERT OR IGNORE``). Without a consumer (no ``[mqtt] url``) the
outbox is left alone, as the monitor does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from stakepool.chain.bus import EventBus
from stakepool.chain.types import Epoch
from stakepool.monitor.daemon_events import RewardsImplausible
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.keeper import to_outbox
from stakepool.rewards.plausibility_check import ImplausibleSettlement
from stakepool.store.database import Database
from stakepool.store.unit import UnitOfWork
from stakepool.store.writer import NotWriterError


class EventSink:
    def __init__(
        self, db: Database, bus: EventBus, *, pool_id: str, outbox_max_rows: int | None
    ) -> None:
        self.db = db
        self.bus = bus
        self.pool_id = pool_id
        self.outbox_max_rows = outbox_max_rows
        self.notify: Callable[[], None] = lambda: None
        """Wakes the MQTT publisher (set once it is built)."""

    async def emit(
        self,
        events: Sequence[MonitorEvent],
        write: Callable[[UnitOfWork], None] | None = None,
    ) -> None:
        max_rows = self.outbox_max_rows
        now = time.time()
        rows = (
            [to_outbox(e, self.pool_id, timestamp=now) for e in events]
            if max_rows is not None
            else []
        )

        def transaction(unit: UnitOfWork) -> None:
            if write is not None:
                write(unit)
            if rows and max_rows is not None:
                unit.enqueue(rows, max_rows=max_rows)

        if write is not None or rows:
            try:
                await self.db.transaction(transaction)
            except NotWriterError:
                # A standby (several instances on one PostgreSQL ledger): the writer keeps the
                # state and sends the MQTT events; this instance still logs and shows them.
                rows = []
        for event in events:
            self.bus.publish(event)
        if rows:
            self.notify()


def _bound(value: int | None) -> str | None:
    return None if value is None else str(value)


def implausible_event(refused: ImplausibleSettlement, node: str | None) -> RewardsImplausible:
    """The typed event of a refused window (``node``: set aside; None: the window is held)."""
    found = refused.found
    return RewardsImplausible(
        epoch=Epoch(refused.epoch),
        node=node,
        held=node is None,
        validators=tuple(f.validator for f in found),
        settlement_gwei=tuple(str(f.settlement) for f in found),
        low_gwei=tuple(_bound(f.bounds.low) for f in found),
        high_gwei=tuple(_bound(f.bounds.high) for f in found),
        error=refused.message,
    )
