"""Running promtool (Debian's ``prometheus`` package; ``./scripts/test`` installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RULES_DIR = REPO / "deploy" / "prometheus"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; a missing promtool fails the test (it must not silently skip)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail(
            "promtool is not installed: run ./scripts/test (it installs Debian's `prometheus`)"
        )
    return subprocess.run(
        [exe, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
