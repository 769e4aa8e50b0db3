"""``stakepool run`` as systemd runs it: a notification socket and a watchdog in the environment.

The test plays the service manager: it owns the datagram socket named in ``$NOTIFY_SOCKET``,
runs the real daemon against the in-process simulator, and reads what it is told. It freezes the
process with SIGSTOP (nothing in it runs, the event loop included) and shows the pings stop, and
come back after SIGCONT; SIGTERM brings ``STOPPING=1`` and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer

REFUSE_WX = Path(__file__).with_name("refuse_wx.py")
WATCHDOG_USEC = 200_000
"""systemd's WatchdogSec, shrunk: the daemon pings every 0.1 s."""
PING = WATCHDOG_USEC / 2_000_000
WAIT = 30.0
"""Upper bound for anything the test waits for; a healthy run needs a fraction of it."""


class Manager:
    """The service manager's end of ``$NOTIFY_SOCKET``."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address
        self.seen: list[str] = []
        sock.setblocking(False)

    async def until(self, pattern: str) -> str:
        """The next message matching ``pattern`` (a regex), keeping everything read on the way."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            while True:
                message = (await loop.sock_recv(self.sock, 4096)).decode()
                self.seen.append(message)
                if re.fullmatch(pattern, message):
                    return message

    def drain(self) -> list[str]:
        got: list[str] = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                self.seen.extend(got)
                return got


@pytest.fixture
def manager() -> Iterator[Manager]:
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:  # short: sun_path is 108 bytes
        path = os.path.join(directory, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            yield Manager(sock, path)


@pytest.fixture
async def sim_url() -> AsyncIterator[str]:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=100, seed=7))
    async with SimServer(chain, auto_advance=True) as server:
        yield server.url


def _state(pid: int) -> str:
    """The process state letter from /proc (after the parenthesised command name)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


async def _stopped(pid: int) -> None:
    """Until the kernel reports the process stopped (state T), so nothing of it can run."""
    async with asyncio.timeout(WAIT):
        while True:
            if _state(pid) == "T":
                return
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _daemon(
    manager: Manager, sim_url: str, tmp_path: Path, *, wrapper: tuple[str, ...] = ()
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``stakepool run`` with the environment systemd gives a Type=notify service; killed after
    the block if it is still running, and its log checked for failed notifications."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[beacon]\nurls = ["{sim_url}"]\n[pool]\nvalidators = [0, 1, 2, 3]\n'
        '[http]\nport = 0\n[log]\nformat = "json"\n'
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STAKEPOOL_", "NOTIFY_", "WATCHDOG_", "CREDENTIALS_"))
    }
    env.update(NOTIFY_SOCKET=manager.address, WATCHDOG_USEC=str(WATCHDOG_USEC))
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as output:
        # As systemd does: WATCHDOG_PID names the daemon's own pid (the shell execs into it).
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            'export WATCHDOG_PID=$$; exec "$0" "$@"',
            *wrapper,
            sys.executable,
            "-m",
            "stakepool",
            "run",
            "--config",
            str(config),
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    events = [json.loads(line) for line in log_path.read_text().splitlines()]
    told = [e for e in events if e["event"] == "systemd_notify"]
    assert [(e["socket"], e["watchdog_seconds"]) for e in told] == [(manager.address, PING)]
    assert not [e for e in events if e["event"] == "sd_notify_failed"]


async def _until_processing(manager: Manager) -> None:
    ready = await manager.until(r"READY=1\n.*")
    assert ready == "READY=1\nSTATUS=following stakepool-sim-minimal for 4 validators"
    status = await manager.until(r"STATUS=epoch \d+ processed, head \d+, finalized \d+")
    epoch, head, _ = map(int, re.findall(r"\d+", status))
    assert head >= 8 * epoch + 8  # the head is past the epoch it reports closed


async def _stops_on_sigterm(manager: Manager, proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await manager.until(r"STOPPING=1\n.*") == "STOPPING=1\nSTATUS=stopping"
    async with asyncio.timeout(WAIT):
        assert await proc.wait() == 0


async def test_ready_status_watchdog_and_stopping(
    manager: Manager, sim_url: str, tmp_path: Path
) -> None:
    async with _daemon(manager, sim_url, tmp_path) as proc:
        await _until_processing(manager)
        assert "STATUS=starting: waiting for a beacon node" in manager.seen  # before READY=1
        for _ in range(3):
            await manager.until("WATCHDOG=1")

        proc.send_signal(signal.SIGSTOP)
        await _stopped(proc.pid)
        manager.drain()  # what it sent before it froze
        await asyncio.sleep(20 * PING)  # ten watchdog timeouts: systemd would have killed it
        assert manager.drain() == []
        proc.send_signal(signal.SIGCONT)
        await manager.until("WATCHDOG=1")  # it runs again, and so do the pings

        await _stops_on_sigterm(manager, proc)


_PROBE = """
import mmap, sys
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    sys.exit(0)
sys.exit("a writable and executable mapping was allowed")
"""


@pytest.fixture
def refuse_wx() -> tuple[str, ...]:
    """The wrapper, once shown to work here; a kernel older than 6.3 skips (and says so)."""
    wrapper = (sys.executable, str(REFUSE_WX))
    probe = subprocess.run(
        [*wrapper, sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "prctl(PR_SET_MDWE)" in probe.stderr:
        pytest.skip(f"this kernel cannot refuse write+execute memory: {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr
    return wrapper


async def test_the_daemon_runs_with_write_execute_memory_refused(
    manager: Manager, sim_url: str, tmp_path: Path, refuse_wx: tuple[str, ...]
) -> None:
    """The unit sets MemoryDenyWriteExecute=yes; the kernel's PR_SET_MDWE (Linux 6.3+) applies
    the same refusal to a process and what it execs, without systemd."""
    async with _daemon(manager, sim_url, tmp_path, wrapper=refuse_wx) as proc:
        await _until_processing(manager)
        await _stops_on_sigterm(manager, proc)
