"""glibc's malloc tuned for the daemon's process: two arenas, and big blocks always mapped.

Why two arenas: the daemon hands its heavy per-epoch work (decoding answers, settling, packing
rows) to worker threads, and glibc gives each thread that allocates an arena of its own (up to
eight per core); memory freed in one arena is not reused for another's allocations, so the
resident size grows with the threads that ever did big work. With two arenas,
``bench/bench_daemon_process.py`` at 100,000 validators on a 2,000,000 network peaked at 546 MB
against 613 MB (one run each, same commit, back to back).

Why a fixed mmap threshold: glibc serves a block above the threshold with its own mapping, given
back to the system when freed, but it raises the threshold to the size of each such block freed
(up to 32 MiB). After the first epoch's answers (a few MB each) were freed, every later answer
and column of that size came from the heap, whose top stays where the biggest epoch left it: the
peak RSS climbed epoch after epoch. A threshold set once turns that adjustment off; at 256 KiB,
the same bench peaked at 499 MB against 544 MB (one run each, same commit, back to back), CPU
within the run-to-run spread.

A setting the operator made wins: ``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_`` or any
``glibc.malloc`` tunable in ``GLIBC_TUNABLES``, which glibc read at start, are left alone. Off
glibc (musl, another OS) this does nothing.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter numbers (``malloc.h``)."""
M_MMAP_THRESHOLD = -3
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024


def _mallopt() -> Callable[[int, int], int] | None:
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


def _operator_set(variable: str, tunable: str) -> bool:
    return bool(os.environ.get(variable)) or tunable in os.environ.get("GLIBC_TUNABLES", "")


def tune_malloc(arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> tuple[str, ...]:
    """The settings glibc took (``"arenas"``, ``"mmap_threshold"``); call it before any worker
    thread allocates."""
    mallopt = _mallopt()
    if mallopt is None:
        return ()
    took: list[str] = []
    if not _operator_set("MALLOC_ARENA_MAX", "glibc.malloc.arena_max") and mallopt(
        M_ARENA_MAX, arenas
    ):
        took.append("arenas")
    if not _operator_set("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") and mallopt(
        M_MMAP_THRESHOLD, mmap_threshold
    ):
        took.append("mmap_threshold")
    return tuple(took)
