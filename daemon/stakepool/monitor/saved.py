"""Everything the monitor must remember across a restart, as one value (pure).

Saved after each processed epoch (and after a stream event that raised events) together with the
events it caused and the duty counters, in one transaction (``monitor.keeper``). Restored at
start-up, the trackers neither repeat an event already told nor lose one: their idempotence rules
(a streak ignores an epoch it counted, a slashing stage only moves forward, a proposal verdict is
told once) then make a re-processed epoch silent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.finality import FinalityState
from stakepool.monitor.persist import load, to_json
from stakepool.monitor.proposals import TrackedProposal
from stakepool.monitor.slashing import WatchState
from stakepool.monitor.status import ValidatorSnapshot
from stakepool.monitor.streaks import StreakState

FORMAT_VERSION = 1


class SavedStateError(ValueError):
    """The stored state cannot be read (another version, or damaged)."""


@dataclass(frozen=True, slots=True)
class MonitorSaved:
    epoch: Epoch | None
    """The last closed epoch fully processed (None: none yet)."""
    streaks: Mapping[ValidatorIndex, StreakState]
    proposals: Mapping[Slot, TrackedProposal]
    status: Mapping[ValidatorIndex, ValidatorSnapshot]
    slashing: WatchState
    finality: FinalityState
    doppelgangers: frozenset[ValidatorIndex]
    finalized_checked: Epoch | None
    """The finalized epoch whose proposals were re-checked."""
    attestations_through: Epoch | None
    """The last epoch whose attestations were evaluated (a later gap breaks the streaks)."""
    sync_through: Epoch | None = None
    """The last epoch whose sync signatures were counted."""
    attestation_retries: Mapping[Epoch, int] = field(default_factory=dict)
    """Epochs whose attestation evaluation failed, with the attempts made so far."""


def encode(saved: MonitorSaved, metrics: Mapping[str, Any], chain: str) -> str:
    """``chain`` names the chain the state belongs to (genesis root and time)."""
    return json.dumps(
        {"version": FORMAT_VERSION, "chain": chain, "state": to_json(saved), "metrics": metrics},
        separators=(",", ":"),
        sort_keys=True,
    )


def decode(text: str, chain: str) -> tuple[MonitorSaved, dict[str, Any]]:
    """``SavedStateError`` if unreadable or saved on another chain (a resynced devnet, another
    network behind the same database): its epochs and verdicts mean nothing here."""
    try:
        body = json.loads(text)
        version = body.get("version")
        if version != FORMAT_VERSION:
            raise SavedStateError(f"monitor state format {version!r}, expected {FORMAT_VERSION}")
        if body.get("chain") != chain:
            raise SavedStateError(f"monitor state of another chain ({body.get('chain')})")
        metrics = body.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise SavedStateError("monitor state: metrics is not an object")
        return load(MonitorSaved, body["state"]), metrics
    except SavedStateError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SavedStateError(f"monitor state cannot be read: {exc}") from exc
