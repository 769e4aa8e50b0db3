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
from dataclasses import dataclass
from pathlib import Path

from tests.integration.processes import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

USERNAME = "pool-operator"
PASSWORD = "correct horse battery staple"


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(workdir: Path) -> TlsFiles:
    """A throwaway CA, a server certificate for ``localhost`` only (so connecting to 127.0.0.1
    fails the hostname check) and a client certificate, with the ``openssl`` command."""
    ca_key, ca = workdir / "ca.key", workdir / "ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=stakepool test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    files = {}
    for name, san in (("server", "DNS:localhost"), ("client", "DNS:stakepool-client")):
        key, csr, cert = workdir / f"{name}.key", workdir / f"{name}.csr", workdir / f"{name}.pem"
        ext = workdir / f"{name}.ext"
        ext.write_text(f"subjectAltName={san}\n", encoding="utf-8")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
        files[name] = (cert, key)
    return TlsFiles(ca, *files["server"], *files["client"])


class Mosquitto:
    def __init__(self, workdir: Path, *, tls: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.auth_port = free_port()
        self.tls_port = free_port() if tls else 0
        self.tls = make_tls_files(workdir) if tls else None
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
            # A test subscriber must see every message even when thousands come at once (the
            # default queues 1000 per subscriber and drops the rest).
            "max_queued_messages 0\n"
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
        if self.tls is not None:
            # Mutual TLS: the client must show a certificate from the CA as well.
            with self.config.open("a", encoding="utf-8") as conf:
                conf.write(
                    f"listener {self.tls_port} 127.0.0.1\n"
                    "allow_anonymous true\n"
                    f"cafile {self.tls.ca}\n"
                    f"certfile {self.tls.server_cert}\n"
                    f"keyfile {self.tls.server_key}\n"
                    "require_certificate true\n"
                    "tls_version tlsv1.2\n"
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
            if all(_accepts(p) for p in (self.port, self.auth_port, self.tls_port) if p):
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
