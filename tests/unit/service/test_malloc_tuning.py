"""The daemon tunes glibc's malloc (see the module): blocks of an epoch's answers go back to the
system when freed instead of staying in the heap, and a setting the operator made wins."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from stakepool.service.malloc_tuning import tune_malloc

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

_CHILD = """
import ctypes, sys
from stakepool.service.malloc_tuning import tune_malloc
took = tune_malloc() if sys.argv[1] == "tuned" else ()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

# An answer of a few MB freed (as after the first epoch), then twenty 1 MiB columns, each
# followed by a smaller block that outlives it (as the state an epoch keeps does), big enough
# that no free chunk of the interpreter's start serves it, so it lies between them.
big = libc.malloc(4 << 20); libc.memset(big, 1, 4 << 20); libc.free(big)
before = rss_kib()
blocks, kept = [], []
for _ in range(20):
    block = libc.malloc(1 << 20)
    libc.memset(block, 1, 1 << 20)
    blocks.append(block)
    kept.append(libc.malloc(200 << 10))
for block in blocks:
    libc.free(block)
print(",".join(took), (rss_kib() - before) // 1024)
"""


def _child(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    took, kept_mib = (out[0], out[1]) if len(out) == 2 else ("", out[0])
    return took, int(kept_mib)


@glibc_only
def test_freed_blocks_of_an_epoch_do_not_stay_resident() -> None:
    took, kept_mib = _child("tuned")
    assert took == "arenas,mmap_threshold"
    assert kept_mib < 5
    # Without the tuning, glibc's raised threshold keeps them in the heap: the test can fail.
    _took, untuned_mib = _child("untuned")
    assert untuned_mib >= 15


@glibc_only
def test_the_operators_settings_win() -> None:
    took, _kept = _child("tuned", MALLOC_ARENA_MAX="4")
    assert took == "mmap_threshold"
    took, kept_mib = _child("tuned", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=8388608")
    assert took == "arenas"
    assert kept_mib >= 15  # the operator's 8 MiB threshold, not ours


def test_nothing_is_tuned_when_the_operator_set_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    assert tune_malloc() == ()
