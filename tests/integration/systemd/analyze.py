"""Running ``systemd-analyze`` (Debian's ``systemd`` package; ``./scripts/test`` installs it).

It works without systemd as PID 1: ``verify`` loads a unit file like the manager would, and
``security --offline=true`` rates its sandboxing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UNIT = REPO / "deploy" / "systemd" / "stakepool.service"
INSTALLED_BINARY = "/opt/stakepool/bin/stakepool"
"""Where the install steps (docs/operations.md) put the console script; the unit's ExecStart names it."""


def systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze; a missing one fails the test (it must not silently skip)."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.fail("systemd-analyze is not installed: run ./scripts/test (it installs `systemd`)")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)


def unit_directives(text: str) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` for each assignment, in order (no continuation lines used)."""
    found: list[tuple[str, str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {raw!r}"
        found.append((section, key.strip(), value.strip()))
    return found
