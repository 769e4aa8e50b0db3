"""An outbox row as its producers write it and the publisher reads it (plain data, no engine):
pure modules build these (the ledger's and the monitor's events) without importing a database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: str
    kind: str
    severity: str | None
    payload: str  # JSON text: publish.envelope.envelope(...)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event_id: str
    kind: str
    severity: str | None
    payload: str
    created_at: str
