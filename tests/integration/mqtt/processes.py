"""Real processes for the MQTT tests: `stakepool sim` and `stakepool run` as an operator runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.mqtt.broker import free_port

STAKEPOOL = [sys.executable, "-m", "stakepool"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STAKEPOOL_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
    }
    env.update(extra)
    return env


@contextmanager
def simulator(tmp_path: Path) -> Iterator[str]:
    """A simulated beacon node (64 validators, 0.1 s slots); its URL."""
    port = free_port()
    log = (tmp_path / "sim.log").open("wb")
    proc = subprocess.Popen(
        [*STAKEPOOL, "sim", "--port", str(port), "--validators", "64", "--slot-seconds", "0.1"]
        + ["--preset", "minimal", "--seed", "5"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # bounded: 300 × 0.1 s
            try:
                with urllib.request.urlopen(url + "/eth/v1/beacon/genesis", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError((tmp_path / "sim.log").read_text()) from None
                time.sleep(0.1)
        else:
            raise AssertionError("stakepool sim did not come up")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


class Daemon:
    """``stakepool run`` with stdout read on a thread into parsed JSON log lines."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                self.logs.append(json.loads(line))
            except ValueError:
                self.logs.append({"event": "not-json", "line": line})

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in list(self.logs) if e.get("event") == name]

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.stderr is not None:
            self.stderr = self.proc.stderr.read()
            self.proc.stderr.close()
        return code


def write_config(
    path: Path, *, sim_url: str, database: Path, mqtt: dict[str, str | int], pool_id: str
) -> Path:
    mqtt_lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in mqtt.items())
    path.write_text(
        f'[beacon]\nurls = ["{sim_url}"]\n'
        f'[pool]\nid = "{pool_id}"\nvalidators = [0, 1, 2]\n'
        f"[ledger]\ndatabase = {json.dumps(str(database))}\n"
        "[http]\nport = 0\n"
        '[log]\nformat = "json"\n'
        f"[mqtt]\n{mqtt_lines}",
        encoding="utf-8",
    )
    return path
