"""The monitor's I/O with the database: its saved state, and its events into the outbox.

``save`` writes the state, the duty counters and the events that state change raised in ONE
transaction, so a crash leaves either all of them or none: after a restart an epoch is either
done (and silent when seen again) or redone from scratch (and its events raised once).
Events reach the outbox only when something consumes it (``outbox_max_rows`` set: MQTT). A save
the database refuses (a full disk) keeps its events for the next save (``held``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stakepool.chain.spec import ChainSpec
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.saved import MonitorSaved, decode, encode
from stakepool.store.database import STORE_ERRORS, Database
from stakepool.store.envelope import outbox_event
from stakepool.store.outbox_event import OutboxEvent
from stakepool.store.unit import UnitOfWork

STATE_KEY = "monitor"


def chain_key(spec: ChainSpec) -> str:
    return f"{spec.genesis_validators_root}@{spec.genesis_time}"


def to_outbox(event: MonitorEvent, pool_id: str, *, timestamp: float) -> OutboxEvent:
    """The envelope of one event: ``data`` holds the event's own fields (enums as values)."""
    fields = event.to_dict()
    for name in ("kind", "severity", "event_id"):
        fields.pop(name, None)
    coords = event.coordinates
    return outbox_event(
        kind=event.kind.value,
        event_id=event.event_id,
        severity=event.severity.value,
        pool_id=pool_id,
        epoch=coords.epoch,
        slot=coords.slot,
        validator_index=coords.validator_index,
        data=fields,
        timestamp=timestamp,
    )


@dataclass(slots=True)
class MonitorKeeper:
    db: Database
    chain: str
    """Which chain the state belongs to: ``chain_key(spec)``."""
    pool_id: str = "pool"
    outbox_max_rows: int | None = None
    digest_writers: list[Callable[[UnitOfWork, EpochDuties], None]] = field(default_factory=list)
    """Also written in the save transaction of an epoch's digest (the ledger's duty outcomes), so
    what the monitor will not redo after a restart is never lost to its consumers."""
    held: list[OutboxEvent] = field(default_factory=list, init=False)
    """Events of saves that failed (a full disk): the next save carries them first, so a write
    refused for a while delays MQTT delivery but loses nothing (bounded by ``outbox_max_rows``)."""

    async def load(self) -> tuple[MonitorSaved, dict[str, Any]] | None:
        """The saved state and counters; None on a fresh database. ``SavedStateError`` if
        unreadable."""
        text = await self.db.view(lambda unit: unit.kept(STATE_KEY))
        return None if text is None else decode(text, self.chain)

    async def save(
        self,
        saved: MonitorSaved,
        metrics: Mapping[str, Any],
        events: Sequence[MonitorEvent],
        digest: EpochDuties | None = None,
    ) -> int:
        """One transaction; returns outbox rows dropped at the bound."""
        # 100,000 validators' rows: in a thread, so the event loop keeps its turns. ``saved`` and
        # ``metrics`` are copies made on the loop (``MonitorService.saved``, ``snapshot``).
        text = await asyncio.to_thread(encode, saved, metrics, self.chain)
        now = time.time()
        rows = self.held + (
            [to_outbox(e, self.pool_id, timestamp=now) for e in events]
            if self.outbox_max_rows is not None
            else []
        )
        max_rows = self.outbox_max_rows

        writers = list(self.digest_writers) if digest is not None else []

        def write(unit: UnitOfWork) -> int:
            unit.keep(STATE_KEY, text)
            for writer in writers:
                assert digest is not None
                writer(unit, digest)
            if max_rows is None or not rows:
                return 0
            return unit.enqueue(rows, max_rows=max_rows)

        try:
            dropped = await self.db.transaction(write)
        except STORE_ERRORS:
            # Kept in memory until a save commits; the oldest go first at the outbox's own bound.
            self.held = rows[-max_rows:] if max_rows is not None else []
            raise
        self.held = []
        return dropped
