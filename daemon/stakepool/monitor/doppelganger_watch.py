"""The doppelganger check against a beacon node (I/O edge around ``monitor.doppelganger``).

Which keys must be silent, and when:

* keys the operator marks ``[monitor] not_started``: every epoch, for as long as they are marked;
* with ``[monitor] vc_doppelganger_wait = true`` every pool key, in ``WAIT_EPOCHS`` around the
  daemon's start: the epoch before the head's at start-up, the head's epoch and the next one (a
  validator client's doppelganger protection waits two to three epochs before it signs).

An epoch is asked about at start-up (the head's previous and current epochs), at each closed
epoch, and on demand (``POST /api/v1/doppelganger/check``). Only ``is_live: true`` counts: a node
that just restarted may know nothing, and silence proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stakepool.beacon.client import BeaconClient
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.doppelganger import DoppelgangerCheck, SilentWindow, silent_windows
from stakepool.monitor.events import DoppelgangerDetected

WAIT_EPOCHS_BEFORE = 1
"""The epoch(s) before the start-up head's epoch that the wait covers."""
WAIT_EPOCHS_AFTER = 1
"""The epoch(s) after the start-up head's epoch that the wait covers."""


@dataclass(frozen=True, slots=True)
class DoppelgangerKeys:
    not_started: tuple[ValidatorIndex, ...] = ()
    vc_wait: bool = False


@dataclass(frozen=True, slots=True)
class EpochCheck:
    epoch: Epoch
    validators: int
    """Keys asked about (those whose silent window covers the epoch, not yet detected)."""
    live: tuple[ValidatorIndex, ...]
    """Of those, the ones the node reports live: each is a doppelganger."""


class DoppelgangerWatch:
    def __init__(
        self,
        client: BeaconClient,
        keys: DoppelgangerKeys,
        pool: Iterable[int],
        alerted: Iterable[ValidatorIndex] = (),
    ) -> None:
        self.client = client
        self.keys = keys
        self.pool = tuple(sorted({ValidatorIndex(v) for v in pool}))
        self.check = DoppelgangerCheck(silent_windows(not_started=keys.not_started), alerted)
        self._marked = set(keys.not_started) | (set(self.pool) if keys.vc_wait else set())

    @property
    def enabled(self) -> bool:
        return bool(self._marked)

    def start(self, head_epoch: int) -> None:
        """Open the validator client's wait window around the start-up head."""
        if not self.keys.vc_wait:
            return
        window = SilentWindow(
            Epoch(max(0, head_epoch - WAIT_EPOCHS_BEFORE)), Epoch(head_epoch + WAIT_EPOCHS_AFTER)
        )
        for v in self.pool:
            if v not in self.keys.not_started:  # "not started" outlives any wait
                self.check.set_window(v, window)

    def detected(self) -> list[ValidatorIndex]:
        """Detected keys still marked silent (what the gauge shows)."""
        return sorted(v for v in self.check.alerted if v in self._marked)

    async def check_epoch(self, epoch: int) -> tuple[EpochCheck, list[DoppelgangerDetected]]:
        """Ask the node about the keys that must be silent in ``epoch``; BeaconError escapes."""
        query = self.check.to_query(epoch)
        if not query:
            return EpochCheck(Epoch(epoch), 0, ()), []
        answer = await self.client.duties.liveness(epoch, query)
        events = self.check.observe(epoch, answer.data)
        live = tuple(sorted(a.index for a in answer.data if a.is_live and a.index in query))
        return EpochCheck(Epoch(epoch), len(query), live), events


def result_json(checks: Sequence[EpochCheck], detected: Sequence[int]) -> dict[str, object]:
    """The on-demand check's answer."""
    return {
        "status": "doppelganger" if detected else "clear",
        "checked": [
            {"epoch": c.epoch, "validators": c.validators, "live": list(c.live)} for c in checks
        ],
        "detected": list(detected),
    }
