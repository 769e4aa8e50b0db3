"""Node-level answers: genesis, spec, syncing, health, version."""

from __future__ import annotations

import enum
import re

from pydantic import StrictBool, StrictStr

from stakepool.beacon.models.wire import RootHex, SlotStr, UInt64, VersionHex, WireModel


class Genesis(WireModel):
    genesis_time: UInt64
    genesis_validators_root: RootHex
    genesis_fork_version: VersionHex


class Syncing(WireModel):
    head_slot: SlotStr
    sync_distance: UInt64
    is_syncing: StrictBool
    is_optimistic: StrictBool = False
    """Absent on nodes that predate the field; they cannot be optimistic."""
    el_offline: StrictBool | None = None
    """Absent on nodes older than beacon-APIs v2.4 (e.g. Lodestar v1.5): unknown."""


class Readiness(enum.IntEnum):
    """``node/health`` answers with a status code only."""

    READY = 200
    SYNCING = 206
    NOT_READY = 503


_CLIENTS = ("lighthouse", "prysm", "teku", "nimbus", "lodestar", "grandine")


class Version(WireModel):
    version: StrictStr

    @property
    def client(self) -> str | None:
        """The client family (``lighthouse``, ``lodestar`` …) from the User-Agent-like string."""
        head = self.version.split("/", 1)[0].strip().lower()
        return next((c for c in _CLIENTS if head.startswith(c)), None)

    @property
    def release(self) -> tuple[int, ...] | None:
        """``(1, 5, 1)`` from ``Lodestar/v1.5.1/2115aa7``; None if there is no version number."""
        match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", self.version)
        if not match:
            return None
        return tuple(int(g) for g in match.groups() if g is not None)
