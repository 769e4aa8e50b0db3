"""Doppelganger detection from liveness answers (pure).

Our keys must be silent in some epochs: keys the operator marked "not yet started" (silent until
further notice), or every key while the local validator client sits in its doppelganger wait
(epochs ``first..last``). If ``POST validator/liveness/{epoch}`` reports such a key live in such an
epoch, another instance is signing with it: ``doppelganger`` (critical), once per validator.

``DoppelgangerCheck.to_query(epoch)`` lists the validators worth asking about for an epoch;
``observe(epoch, liveness)`` judges the answers. Liveness is best-effort (a node that just
restarted knows little), so silence proves nothing; only ``is_live: true`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stakepool.beacon.models.duties import Liveness
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.events import DoppelgangerDetected


@dataclass(frozen=True, slots=True)
class SilentWindow:
    first_epoch: Epoch
    last_epoch: Epoch | None = None
    """Inclusive; None: until the operator says the key started."""

    def covers(self, epoch: int) -> bool:
        return self.first_epoch <= epoch and (self.last_epoch is None or epoch <= self.last_epoch)


def silent_windows(
    *,
    not_started: Iterable[int] = (),
    since_epoch: int = 0,
    waiting: Iterable[int] = (),
    wait_first: int = 0,
    wait_last: int = 0,
) -> dict[ValidatorIndex, SilentWindow]:
    """Windows for keys not yet started (from ``since_epoch`` on) and keys in a VC's wait.

    A key in both keeps the open-ended window: "not started" outlives any wait.
    """
    out = {ValidatorIndex(v): SilentWindow(Epoch(wait_first), Epoch(wait_last)) for v in waiting}
    out.update({ValidatorIndex(v): SilentWindow(Epoch(since_epoch)) for v in not_started})
    return out


class DoppelgangerCheck:
    def __init__(
        self,
        windows: Mapping[ValidatorIndex, SilentWindow],
        alerted: Iterable[ValidatorIndex] = (),
    ) -> None:
        self._windows = dict(windows)
        self._alerted = set(alerted)

    @property
    def alerted(self) -> frozenset[ValidatorIndex]:
        """Validators already reported (persist it to stay silent across restarts)."""
        return frozenset(self._alerted)

    def set_window(self, validator: int, window: SilentWindow | None) -> None:
        """Change a key's window; None once our client legitimately signs with it."""
        if window is None:
            self._windows.pop(ValidatorIndex(validator), None)
        else:
            self._windows[ValidatorIndex(validator)] = window

    def to_query(self, epoch: int) -> list[ValidatorIndex]:
        return sorted(
            v for v, w in self._windows.items() if w.covers(epoch) and v not in self._alerted
        )

    def observe(self, epoch: int, liveness: Iterable[Liveness]) -> list[DoppelgangerDetected]:
        events: list[DoppelgangerDetected] = []
        for answer in sorted(liveness, key=lambda a: a.index):
            if answer.epoch is not None and answer.epoch != epoch:
                raise ValueError(f"liveness for epoch {answer.epoch} fed as epoch {epoch}")
            window = self._windows.get(answer.index)
            if not answer.is_live or window is None or not window.covers(epoch):
                continue
            if answer.index in self._alerted:
                continue
            self._alerted.add(answer.index)
            events.append(DoppelgangerDetected(validator_index=answer.index, epoch=Epoch(epoch)))
        return events
