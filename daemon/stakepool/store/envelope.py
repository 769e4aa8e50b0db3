"""The JSON envelope every event travels in: an outbox row's payload, published as is over MQTT.

One shape for all producers (monitor, ledger), versioned by ``schema_version`` so consumers can
refuse what they do not understand. ``event_id`` is the producer's deterministic id (same event →
same id, whatever the restart or the source), so consumers deduplicate on it; ``timestamp`` is when
the event was recorded and is deliberately not part of the id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from stakepool.store.outbox_event import OutboxEvent

SCHEMA_VERSION = 1


def envelope(
    *,
    kind: str,
    event_id: str,
    severity: str | None,
    pool_id: str,
    epoch: int | None,
    slot: int | None,
    validator_index: int | None,
    data: Mapping[str, Any],
    timestamp: float,
) -> str:
    """The payload text; ``data`` must be JSON-ready (amounts as decimal strings of Gwei)."""
    body = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "kind": kind,
        "severity": severity,
        "pool_id": pool_id,
        "chain": {"epoch": epoch, "slot": slot, "validator_index": validator_index},
        "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds"),
        "data": dict(data),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def outbox_event(
    *,
    kind: str,
    event_id: str,
    severity: str | None,
    pool_id: str,
    epoch: int | None,
    slot: int | None = None,
    validator_index: int | None = None,
    data: Mapping[str, Any],
    timestamp: float,
) -> OutboxEvent:
    payload = envelope(
        kind=kind,
        event_id=event_id,
        severity=severity,
        pool_id=pool_id,
        epoch=epoch,
        slot=slot,
        validator_index=validator_index,
        data=data,
        timestamp=timestamp,
    )
    return OutboxEvent(event_id=event_id, kind=kind, severity=severity, payload=payload)
