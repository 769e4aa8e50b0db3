"""Everything the monitor must remember across a restart, as one value (pure).

Saved after each processed epoch (and after a stream event that raised events) together with the
events it caused and the duty counters, in one transaction (``monitor.keeper``). Restored at
start-up, the trackers neither repeat an event already told nor lose one: their idempotence rules
(a streak ignores an epoch it counted, a slashing stage only moves forward, a proposal verdict is
told once) then make a re-processed epoch silent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stakepool.beacon.models.state import ValidatorStatus
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.monitor.finality import FinalityState
from stakepool.monitor.persist import load, to_json
from stakepool.monitor.proposals import TrackedProposal
from stakepool.monitor.slashing import WatchState
from stakepool.monitor.status import CredentialType, ValidatorSnapshot
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
    proposal_retries: Mapping[Epoch, int] = field(default_factory=dict)
    """Epochs whose proposals could not be judged, with the attempts made so far."""


# The two per-validator maps (100,000 entries for a large pool, saved every epoch) go as rows of
# plain values: the generic codec would spend seconds on them.


def _status_rows(status: Mapping[ValidatorIndex, ValidatorSnapshot]) -> list[list[Any]]:
    return [
        [
            int(s.index),
            int(s.epoch),
            s.status.value,
            int(s.effective_balance),
            s.slashed,
            s.credentials.value,
            int(s.exit_epoch),
            int(s.withdrawable_epoch),
        ]
        for s in status.values()
    ]


def _status_map(rows: list[list[Any]]) -> dict[ValidatorIndex, ValidatorSnapshot]:
    out: dict[ValidatorIndex, ValidatorSnapshot] = {}
    for i, epoch, status, balance, slashed, cred, exit_epoch, withdrawable in rows:
        out[ValidatorIndex(i)] = ValidatorSnapshot(
            ValidatorIndex(int(i)),
            Epoch(int(epoch)),
            ValidatorStatus(status),
            Gwei(int(balance)),
            bool(slashed),
            CredentialType(cred),
            Epoch(int(exit_epoch)),
            Epoch(int(withdrawable)),
        )
    return out


def _streak_rows(streaks: Mapping[ValidatorIndex, StreakState]) -> list[list[Any]]:
    return [[int(v), int(s.last_epoch), s.missed, s.first_missed_epoch] for v, s in streaks.items()]


def _streak_map(rows: list[list[Any]]) -> dict[ValidatorIndex, StreakState]:
    return {
        ValidatorIndex(int(v)): StreakState(
            Epoch(int(last)), int(missed), None if first is None else Epoch(int(first))
        )
        for v, last, missed, first in rows
    }


def encode(saved: MonitorSaved, metrics: Mapping[str, Any], chain: str) -> str:
    """``chain`` names the chain the state belongs to (genesis root and time)."""
    state = to_json(dataclasses.replace(saved, status={}, streaks={}))
    state["status"] = _status_rows(saved.status)
    state["streaks"] = _streak_rows(saved.streaks)
    return json.dumps(
        {"version": FORMAT_VERSION, "chain": chain, "state": state, "metrics": metrics},
        separators=(",", ":"),
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
        state = dict(body["state"])
        status, streaks = state.pop("status"), state.pop("streaks")
        rest = load(MonitorSaved, {**state, "status": [], "streaks": []})
        saved = dataclasses.replace(rest, status=_status_map(status), streaks=_streak_map(streaks))
        return saved, metrics
    except SavedStateError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SavedStateError(f"monitor state cannot be read: {exc}") from exc
