"""glibc's malloc held to two arenas for the daemon's process.

Why: the daemon hands its heavy per-epoch work (decoding answers, settling, packing rows) to
worker threads, and glibc gives each thread that allocates an arena of its own (up to eight per
core); memory freed in one arena is not reused for another's allocations, so the resident size
grows with the threads that ever did big work. With two arenas, ``bench/bench_daemon_process.py``
at 100,000 validators on a 2,000,000 network peaked at 546 MB against 613 MB (one run each, same
commit, back to back). The CPU cost was within the run-to-run spread.

``MALLOC_ARENA_MAX`` set by the operator wins: glibc read it at start, and it is left alone. Off
glibc (musl, another OS) this does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number (``malloc.h``)."""
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """True when glibc took the limit."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
