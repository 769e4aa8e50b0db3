"""The cyclic garbage collector, kept out of the epoch's work.

An epoch of a large pool allocates millions of small objects (decoded answers, per-validator
records, rows); with the default thresholds the collector runs again and again in the middle of
it, each time walking every object the daemon holds (the pool's records, the monitor's trackers),
which cost seconds of CPU per epoch at 100,000 validators. Almost none of that is cyclic garbage:
reference counting frees it as the epoch goes.

So: what start-up built (modules, settings, the pool) is frozen out of the collector's walks
(``gc.freeze``), and the collector is paused while an epoch is worked on, then run once over the
young generations at the quiet point after it (``gc.collect(1)``: everything the epoch allocated
and still holds, which frees the epoch's cycles and promotes the rest). Between epochs it runs as
usual, so a long retry never leaves it off for long: the pause ends with the epoch's steps,
whatever they raise.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class CollectorStats:
    """What the last quiet-point collection cost (for benchmarks and the curious), and how many
    epochs are being worked on now (two daemons in one process, as tests run them, overlap)."""

    last_seconds: float = 0.0
    last_collected: int = 0
    paused: int = 0
    resume: bool = False


STATS = CollectorStats()


def freeze_startup() -> None:
    """Start-up is done: collect once, then keep what survived out of every later walk."""
    gc.collect()
    gc.freeze()


@contextmanager
def paused_for_epoch() -> Iterator[None]:
    """No automatic collection inside; one collection of the young generations after."""
    if STATS.paused == 0:
        STATS.resume = gc.isenabled()
        gc.disable()
    STATS.paused += 1
    try:
        yield
    finally:
        STATS.paused -= 1
        if STATS.paused == 0:
            started = time.perf_counter()
            STATS.last_collected = gc.collect(1)
            STATS.last_seconds = time.perf_counter() - started
            if STATS.resume:
                gc.enable()
