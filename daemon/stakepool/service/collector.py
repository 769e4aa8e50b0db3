"""The cyclic garbage collector, kept from walking everything in the middle of an epoch.

An epoch of a large pool allocates millions of small objects (decoded answers, per-validator
records, rows). With the default thresholds that many allocations set off full collections again
and again in the middle of it, each walking every object the daemon holds (the pool's records,
the monitor's trackers): seconds of CPU per epoch at 100,000 validators, for almost no cyclic
garbage (reference counting frees the epoch's objects as it goes).

So: what start-up built (modules, settings, the pool) is frozen out of every walk (``gc.freeze``),
and while an epoch is worked on the oldest generation's threshold is out of reach, so no full
collection runs; the young collections go on (they walk only new objects and keep the epoch's own
cycles from piling up; turning the collector off altogether measured the same CPU and peak RSS in
``bench/bench_daemon_process.py``, without that guard). The delegations watcher's polls run the
same way (a file of a million delegations is parsed and applied in one go). At the quiet point
after it, one collection of the young generations runs, then the usual thresholds are back, so a
long retry never leaves full collections off for long: the pause ends with the work, whatever it
raises.
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
    thresholds: tuple[int, int, int] = (700, 10, 10)


STATS = CollectorStats()
NO_FULL_COLLECTION = 1_000_000_000
"""The oldest generation's threshold inside an epoch: never reached, so no full collection."""


def freeze_startup() -> None:
    """Start-up is done: collect once, then keep what survived out of every later walk."""
    gc.collect()
    gc.freeze()


@contextmanager
def without_full_collection() -> Iterator[None]:
    """No full collection inside; one collection of the young generations after."""
    if STATS.paused == 0:
        STATS.thresholds = gc.get_threshold()
        young, middle, _old = STATS.thresholds
        gc.set_threshold(young, middle, NO_FULL_COLLECTION)
    STATS.paused += 1
    try:
        yield
    finally:
        STATS.paused -= 1
        if STATS.paused == 0:
            started = time.perf_counter()
            STATS.last_collected = gc.collect(1)
            STATS.last_seconds = time.perf_counter() - started
            gc.set_threshold(*STATS.thresholds)
