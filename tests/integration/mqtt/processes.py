"""Real processes for the MQTT tests: `stakepool run` as an operator runs it (`stakepool sim`:
``tests.integration.processes.simulator``)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.integration.processes import STAKEPOOL


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
