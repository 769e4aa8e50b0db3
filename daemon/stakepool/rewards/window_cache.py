"""``WindowCache``: what ``settle`` read that ``explain`` needs again, for a few recent windows.

The explanation of window ``k`` often comes later than its settlement (the rewards endpoints may
404 until the node has the states), so the fetcher keeps the window's block facts, start records
and end state id, keyed by epoch and block roots: a reorged window (other roots) never matches.
An explained window is forgotten at once: only the ones still waiting for their explanation stay.
A part of its own so the bound (``keep`` windows, oldest dropped first) lives in one place; it
does no I/O — on a miss the settlement reader reads the window again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from stakepool.rewards.explaining import Record
from stakepool.rewards.window import WindowFacts

WindowKey = tuple[int, tuple[str, ...]]
"""(epoch, canonical block roots of the window in slot order)."""


@dataclass(frozen=True, slots=True)
class KeptWindow:
    """What ``settle`` read and ``explain`` needs again."""

    facts: WindowFacts
    start: Mapping[int, Record]
    end_state_id: str


class WindowCache:
    """``keep``: how many windows are kept (0: none, every ``explain`` reads again)."""

    def __init__(self, keep: int) -> None:
        self.keep = max(0, keep)
        self._windows: OrderedDict[WindowKey, KeptWindow] = OrderedDict()

    def remember(self, key: WindowKey, window: KeptWindow) -> None:
        if not self.keep:
            return
        self._windows[key] = window
        self._windows.move_to_end(key)
        while len(self._windows) > self.keep:
            self._windows.popitem(last=False)

    def forget(self, key: WindowKey) -> None:
        self._windows.pop(key, None)

    def get(self, key: WindowKey) -> KeptWindow | None:
        return self._windows.get(key)

    def __len__(self) -> int:
        return len(self._windows)
