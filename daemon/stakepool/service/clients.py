"""Beacon API clients built from ``[beacon]``: one place, so every client the daemon or a command
opens (the nodes, the archive, the witness's pinned nodes, ``duties next``) sends the same
credentials and keeps the same timeouts and deadlines."""

from __future__ import annotations

from collections.abc import Sequence

from stakepool.beacon.client import BeaconClient
from stakepool.config import Settings


def beacon_client(
    settings: Settings, urls: Sequence[str], *, retries: int | None = None
) -> BeaconClient:
    """A client of ``urls`` with ``[beacon]``'s auth, timeouts and deadlines (``retries``: fewer,
    for a command that must answer promptly)."""
    beacon = settings.beacon
    return BeaconClient(
        list(urls),
        auth=beacon.auth.get_secret_value() if beacon.auth is not None else None,
        timeout=beacon.timeout_seconds,
        bulk_timeout=beacon.bulk_timeout_seconds,
        connect_timeout=beacon.connect_timeout_seconds,
        retries=beacon.retries if retries is None else retries,
        batch_size=beacon.batch_size,
        deadline_slots=beacon.request_deadline_slots,
        min_deadline=beacon.min_request_deadline_seconds,
        probe_interval_slots=beacon.probe_interval_slots,
    )
