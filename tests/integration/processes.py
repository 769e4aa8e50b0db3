"""``stakepool`` as an operator starts it: a real process, a clean environment, a free port.

For the tests that run the command line itself (``stakepool sim``, ``stakepool run``, ``demo``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAKEPOOL = [sys.executable, "-m", "stakepool"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would configure the daemon behind the test's back."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STAKEPOOL_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
    }
    env.update(extra)
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/eth/v1/beacon/genesis", timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def simulator(tmp_path: Path, *, slot_seconds: str, offline: str | None = None) -> Iterator[str]:
    """``stakepool sim``: 64 validators of the minimal preset (``offline``, e.g. ``"60..63"``, do
    not attest); its URL once it answers. Its output goes to ``tmp_path / "sim.log"``; it must stop
    cleanly on SIGTERM."""
    port = free_port()
    log_path = tmp_path / "sim.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*STAKEPOOL, "sim", "--port", str(port), "--validators", "64"]
            + ["--slot-seconds", slot_seconds, "--preset", "minimal", "--seed", "5"]
            + (["--offline", offline] if offline else []),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"stakepool sim did not come up: {log_path.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    # Only reached when the test itself passed: its failure is the one to report.
    assert code == 0, f"stakepool sim exited with {code}: {log_path.read_text()}"
