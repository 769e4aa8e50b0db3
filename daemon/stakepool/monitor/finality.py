"""Finality delay and inactivity leak, as state machines that report start and end once (pure).

``FinalityWatch.observe(current_epoch, finalized_epoch)``:

* finality delayed while ``current_epoch − finalized_epoch > thresholds.finality_delay_epochs``
  (default 3; a healthy chain sits at 2) → ``finality_delayed`` (warning) when it starts,
  ``finality_restored`` (info) when it ends;
* inactivity leak while ``previous_epoch − finalized_epoch > MIN_EPOCHS_TO_INACTIVITY_PENALTY``
  (the spec's ``is_in_inactivity_leak``; the value comes from the node's spec, 4 on every network
  so far) → ``inactivity_leak_started`` (critical) / ``inactivity_leak_ended`` (info).

Observing the same or an older epoch again yields nothing new; the state is two booleans and the
last epoch, so it persists trivially (``state``/``state=``).
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.chain.types import Epoch
from stakepool.monitor.events import (
    FinalityDelayed,
    FinalityRestored,
    InactivityLeakEnded,
    InactivityLeakStarted,
    MonitorEvent,
    MonitorThresholds,
)


@dataclass(frozen=True, slots=True)
class FinalityState:
    delayed: bool = False
    leaking: bool = False
    last_epoch: Epoch | None = None


def is_in_inactivity_leak(current_epoch: int, finalized_epoch: int, min_epochs: int) -> bool:
    previous_epoch = max(current_epoch - 1, 0)  # the spec's get_previous_epoch
    return previous_epoch - finalized_epoch > min_epochs


class FinalityWatch:
    def __init__(
        self,
        thresholds: MonitorThresholds = MonitorThresholds(),  # noqa: B008 - frozen, so shareable
        min_epochs_to_inactivity_penalty: int = 4,
        state: FinalityState | None = None,
    ) -> None:
        self._delay_limit = thresholds.finality_delay_epochs
        self._leak_limit = min_epochs_to_inactivity_penalty
        self._state = state or FinalityState()

    @property
    def state(self) -> FinalityState:
        return self._state

    def observe(self, current_epoch: int, finalized_epoch: int) -> list[MonitorEvent]:
        s = self._state
        if s.last_epoch is not None and current_epoch < s.last_epoch:
            return []  # a lagging node's view of the past
        epoch, finalized = Epoch(current_epoch), Epoch(finalized_epoch)
        delay = current_epoch - finalized_epoch
        delayed = delay > self._delay_limit
        leaking = is_in_inactivity_leak(current_epoch, finalized_epoch, self._leak_limit)
        events: list[MonitorEvent] = []
        if delayed and not s.delayed:
            events.append(FinalityDelayed(epoch=epoch, finalized_epoch=finalized, delay=delay))
        if leaking and not s.leaking:
            events.append(InactivityLeakStarted(epoch=epoch, finalized_epoch=finalized))
        if s.leaking and not leaking:
            events.append(InactivityLeakEnded(epoch=epoch, finalized_epoch=finalized))
        if s.delayed and not delayed:
            events.append(FinalityRestored(epoch=epoch, finalized_epoch=finalized))
        self._state = FinalityState(delayed, leaking, epoch)
        return events
