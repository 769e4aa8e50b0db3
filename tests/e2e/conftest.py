"""The devnet: stock Lodestar v1.5.1 from the kit in ``tests/e2e/devnet`` (see its README).

``devnet`` installs the kit if needed (``devnet.sh install``: idempotent, ~1 min the first time, into
``$DEVNET_HOME``, default ``~/.cache/stakepool-devnet``), starts one node on free ports with its own
data dir under the test's tmp dir, and stops it by its PID at the end, even when the test fails;
then it checks that no process of that node is left. ``devnet_keymanager`` is the same node with
its validator client's standard Keymanager API on (stock ``--keymanager true``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.mqtt.broker import MOSQUITTO, Mosquitto

KIT = Path(__file__).parent / "devnet"
DEVNET_SH = KIT / "devnet.sh"


@dataclass(frozen=True)
class Devnet:
    url: str
    pid: int
    data: Path
    home: Path
    keymanager_url: str | None = None
    """The validator client's Keymanager API (``devnet_keymanager`` only)."""

    @property
    def log(self) -> Path:
        return self.data / "lodestar.log"

    @property
    def keymanager_token_file(self) -> Path:
        """Where stock Lodestar writes its Keymanager API bearer token (once the VC runs)."""
        return self.data / "data" / "validator-db" / "api-token.txt"

    def interop_keystore(self, index: int, password: str) -> str:
        """The kit's helper: the EIP-2335 keystore (JSON text) of interop validator ``index``."""
        done = subprocess.run(
            ["node", str(self.home / "interop-keystore.mjs"), str(index), password],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def inject_slashings(self, *, proposer: int, attester: int) -> str:
        """The kit's helper: a real double proposal and double vote, through the pool endpoints."""
        done = subprocess.run(
            [
                "node",
                str(self.home / "inject-slashings.mjs"),
                "--url",
                self.url,
                "--proposer",
                str(proposer),
                "--attester",
                str(attester),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def _free_port(udp_too: bool) -> int:
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
        if not udp_too:
            return port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdecimal():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _devnet_env(
    home: Path, data: Path, rest: int, p2p: int, keymanager: int | None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEVNET_HOME=str(home),
        DEVNET_DATA=str(data),
        REST_PORT=str(rest),
        P2P_PORT=str(p2p),
        START_VALIDATORS="0..55",
        KEYMANAGER_PORT="" if keymanager is None else str(keymanager),
    )
    return env


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One node per test module: its tests run on the same chain, one after the other."""
    with _running_devnet(tmp_path_factory, keymanager=False) as node:
        yield node


@pytest.fixture(scope="module")
def devnet_keymanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The same node, its validator client serving the Keymanager API on a free port."""
    with _running_devnet(tmp_path_factory, keymanager=True) as node:
        yield node


@contextmanager
def _running_devnet(
    tmp_path_factory: pytest.TempPathFactory, *, keymanager: bool
) -> Iterator[Devnet]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed for the e2e tests: run ./scripts/test")
    home = Path(
        os.environ.get("DEVNET_HOME") or Path.home() / ".cache" / "stakepool-devnet"
    ).absolute()
    data = tmp_path_factory.mktemp("devnet")
    rest, p2p = _free_port(udp_too=False), _free_port(udp_too=True)
    km_port = _free_port(udp_too=False) if keymanager else None
    env = _devnet_env(home, data, rest, p2p, km_port)
    install = subprocess.run(
        [str(DEVNET_SH), "install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    pidfile = data / "lodestar.pid"
    pid: int | None = None
    try:
        # devnet.sh waits for the REST API itself (START_TIMEOUT, 120 s by default).
        started = subprocess.run(
            [str(DEVNET_SH), "start"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        pid = int(pidfile.read_text()) if pidfile.exists() else None
        assert started.returncode == 0, started.stderr
        assert pid is not None
        fields = dict(f.split("=", 1) for f in started.stdout.split())
        assert int(fields["pid"]) == pid
        yield Devnet(
            url=fields["url"],
            pid=pid,
            data=data,
            home=home,
            keymanager_url=None if km_port is None else f"http://127.0.0.1:{km_port}",
        )
    finally:
        stopped = subprocess.run(
            [str(DEVNET_SH), "stop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if pid is None and pidfile.exists():
            pid = int(pidfile.read_text())
        if pid is not None and pid in _processes_mentioning(str(data)):
            os.kill(pid, signal.SIGKILL)  # devnet.sh could not stop it: ours by PID, no other
            for _ in range(50):
                if pid not in _processes_mentioning(str(data)):
                    break
                time.sleep(0.1)
        left = _processes_mentioning(str(data))
        assert stopped.returncode == 0, stopped.stderr
        assert left == [], f"devnet processes left behind: {left}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private mosquitto on free loopback ports (the MQTT integration tests' broker)."""
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run scripts/test (it installs the Debian package)")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    server = Mosquitto(workdir)
    server.start()
    yield server
    server.stop()
