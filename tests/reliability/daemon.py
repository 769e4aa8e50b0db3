"""One ``stakepool run`` of a reliability scenario: its config, database, logs, MQTT prefix, and
what an operator's supervisor sees (a crash is an exit nobody asked for; it is started again, as
the unit's ``Restart=on-failure`` does)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.integration.money.moneykit import POOL
from tests.integration.money.moneykit import settled as settled_epochs
from tests.integration.processes import STAKEPOOL, clean_env, free_port

POOL_ID = "rel"


class Daemon:
    """One ``stakepool run`` with its own database, HTTP port, logs and MQTT prefix."""

    def __init__(
        self,
        tmp: Path,
        name: str,
        urls: list[str],
        mqtt_port: int,
        *,
        extra: str = "",
        beacon_extra: str = "",
        db: Path | None = None,
    ) -> None:
        self.name = name
        self.tmp = tmp
        self.db = db or tmp / f"{name}.sqlite"
        self.http_port = free_port()
        self.prefix = name
        self.config = tmp / f"{name}.toml"
        self.config.write_text(
            f"[beacon]\nurls = {urls!r}\n".replace("'", '"')
            + "timeout_seconds = 2\nretries = 2\n"
            + beacon_extra
            + f'[pool]\nid = "{POOL_ID}"\nvalidators = {POOL}\nfee_bps = 500\n'
            f'delegations_file = "{tmp / "delegations.toml"}"\n'
            # Written whole before the start: both daemons apply it at once, from epoch 0. With
            # the stability gate's wait, which of them is past it at the first boundary would
            # depend on when each started (delegation rows differing by one epoch).
            "delegations_stable_seconds = 0\n"
            f'[http]\nport = {self.http_port}\n[ledger]\ndatabase = "{self.db}"\n'
            f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\ntopic_prefix = "{name}"\n'
            f'client_id = "stakepool-{name}"\n'
            # Kills and stalls can keep a daemon from progressing for many short epochs; the
            # monitor must then catch up rather than skip (the knob's default: 16).
            "[monitor]\ncatch_up_epochs = 1024\n"
            '[log]\nformat = "json"\n' + extra,
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.crashes: list[str] = []

    @property
    def log(self) -> Path:
        return self.tmp / f"{self.name}-{self.starts}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, env: dict[str, str] | None = None) -> None:
        self.starts += 1
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*STAKEPOOL, "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_env(**(env or {})),
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.check()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def check(self) -> bool:
        """False (and a crash counted, and the daemon started again) when it exited on its own."""
        if self.proc is None or self.proc.poll() is None:
            return True
        self.crashes.append(f"{self.name} exited {self.proc.returncode}: {self.tail()}")
        self.start()
        return False

    def stop(self) -> int:
        """SIGTERM; the exit code (0 expected: a clean stop drains the outbox first)."""
        if self.proc is None:
            return 0
        self.check()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        self.proc = None
        return code

    def settled(self) -> tuple[int, int]:
        return settled_epochs(self.db)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def outbox_depth(db: Path) -> int:
    """Events a daemon committed and the broker has not acknowledged yet (-1: unreadable)."""
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1
