"""Consecutive missed attestations per validator → events (pure, restartable).

``MissedStreaks.observe(epoch, outcomes)`` takes one evaluated epoch (``AttestationOutcome`` from
``monitor.attestations``) and returns:

* ``AttestationMissed`` (info) for every missed duty, with the streak length so far;
* ``AttestationStreak`` (warning) exactly when a validator's streak reaches the threshold — not
  again while the streak continues;
* ``AttestationRecovered`` (info) when a validator whose streak had reached the threshold is
  included again (a short streak that never alerted ends silently).

Epochs are consecutive per validator in the order observed (an epoch without a duty for that
validator does not break its streak); ``gap()`` ends every streak when the caller skipped epochs.
Feeding an epoch already observed for a validator (a
re-evaluation, a restart) changes nothing and yields nothing. ``state``/``from_state`` round-trip
the tracker through plain data for persistence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.events import (
    AttestationMissed,
    AttestationRecovered,
    AttestationStreak,
    MonitorEvent,
)


class StreakState(msgspec.Struct, frozen=True, gc=False):
    """One validator's streak. Untracked by the garbage collector (plain values, no cycle
    possible): one per pool member lives between epochs, see ``ValidatorSnapshot``."""

    last_epoch: Epoch
    """The last epoch observed for the validator."""
    missed: int
    """Current streak length (0 when the last duty was included)."""
    first_missed_epoch: Epoch | None


class MissedStreaks:
    def __init__(
        self, threshold: int, state: Mapping[ValidatorIndex, StreakState] | None = None
    ) -> None:
        if threshold < 1:
            raise ValueError("a streak threshold is at least 1")
        self._threshold = threshold
        self._state: dict[ValidatorIndex, StreakState] = dict(state or {})

    @property
    def state(self) -> Mapping[ValidatorIndex, StreakState]:
        return dict(self._state)

    def streak(self, validator: int) -> int:
        s = self._state.get(ValidatorIndex(validator))
        return 0 if s is None else s.missed

    def gap(self) -> None:
        """Epochs went unevaluated (beacon errors, downtime): what happened there is unknown, so
        no streak may count across them. Streaks end silently; each validator starts afresh."""
        self._state = {
            v: StreakState(s.last_epoch, 0, None) if s.missed else s for v, s in self._state.items()
        }

    def observe(self, epoch: int, outcomes: Iterable[AttestationOutcome]) -> list[MonitorEvent]:
        events, changed = self.plan(epoch, outcomes)
        self.apply(changed)
        return events

    def apply(self, changed: Mapping[ValidatorIndex, StreakState]) -> None:
        """The new states ``plan`` worked out."""
        self._state.update(changed)

    def plan(
        self, epoch: int, outcomes: Iterable[AttestationOutcome]
    ) -> tuple[list[MonitorEvent], dict[ValidatorIndex, StreakState]]:
        """What observing ``epoch`` tells and the validators' new states, changing nothing (so it
        may be worked out away from the loop, then applied in one step)."""
        events: list[MonitorEvent] = []
        changed: dict[ValidatorIndex, StreakState] = {}
        # One verdict per validator and epoch: several duties in one epoch do not occur, but if a
        # caller merges duty lists, an inclusion of any wins.
        included: dict[ValidatorIndex, bool] = {}
        slot_of: dict[ValidatorIndex, AttestationOutcome] = {}
        for o in outcomes:
            if o.epoch != epoch:
                raise ValueError(f"outcome of epoch {o.epoch} fed as epoch {epoch}")
            included[o.validator_index] = included.get(o.validator_index, False) or o.included
            slot_of.setdefault(o.validator_index, o)
        e = Epoch(epoch)
        for v in sorted(included):
            prev = self._state.get(v)
            if prev is not None and e <= prev.last_epoch:
                continue  # already counted: idempotent
            if included[v]:
                if prev is not None and prev.missed >= self._threshold:
                    events.append(
                        AttestationRecovered(validator_index=v, epoch=e, missed=prev.missed)
                    )
                changed[v] = StreakState(e, 0, None)
                continue
            missed = 1 + (prev.missed if prev is not None else 0)
            first = prev.first_missed_epoch if prev is not None and prev.missed else e
            assert first is not None
            changed[v] = StreakState(e, missed, first)
            events.append(
                AttestationMissed(validator_index=v, epoch=e, slot=slot_of[v].slot, streak=missed)
            )
            if missed == self._threshold:
                events.append(
                    AttestationStreak(
                        validator_index=v, epoch=e, streak=missed, first_missed_epoch=first
                    )
                )
        return events, changed
