"""A real mosquitto on loopback for the MQTT tests: one anonymous listener, one with passwords.

The binary is Debian's ``mosquitto`` (``scripts/test`` installs it when missing). Persistence is
off, so a restarted broker has forgotten everything: what arrives after a restart was published
after it. The broker runs as the current user (as root it would otherwise switch to the
``mosquitto`` user and could not read the password file in the test's tmp directory).
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

USERNAME = "pool-operator"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.auth_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        passwords = workdir / "passwords"
        subprocess.run(
            [MOSQUITTO_PASSWD, "-c", "-b", str(passwords), USERNAME, PASSWORD],
            check=True,
            capture_output=True,
        )
        passwords.chmod(0o600)
        self.log = workdir / "mosquitto.log"
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            f"user {getpass.getuser()}\n"
            "persistence false\n"
            "per_listener_settings true\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"listener {self.auth_port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {passwords}\n",
            encoding="utf-8",
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.auth_port}"

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(200):  # bounded: 200 × 50 ms
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err} {self.log_text()}")
            if _accepts(self.port) and _accepts(self.auth_port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen: {self.log_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""
