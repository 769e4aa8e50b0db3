"""``stakepool run`` as systemd runs it: a notification socket and a watchdog in the environment.

The test plays the service manager: it owns the datagram socket named in ``$NOTIFY_SOCKET``,
runs the real daemon against the in-process simulator, and reads what it is told. It freezes the
process with SIGSTOP (nothing in it runs, the event loop included) and shows the pings stop, and
come back after SIGCONT; SIGTERM brings ``STOPPING=1`` and exit 0.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer

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


async def test_ready_status_watchdog_and_stopping(
    manager: Manager, sim_url: str, tmp_path: Path
) -> None:
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
    output = (tmp_path / "daemon.log").open("wb")
    # As systemd does: WATCHDOG_PID names the daemon's own pid (the shell execs into it).
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        'export WATCHDOG_PID=$$; exec "$0" "$@"',
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
        ready = await manager.until(r"READY=1\n.*")
        assert ready == "READY=1\nSTATUS=following stakepool-sim-minimal for 4 validators"
        before_ready = manager.seen[:-1]
        assert "STATUS=starting: waiting for a beacon node" in before_ready
        status = await manager.until(r"STATUS=epoch \d+ processed, head \d+, finalized \d+")
        epoch, head, _ = map(int, re.findall(r"\d+", status))
        assert head >= 8 * epoch + 8  # the head is past the epoch it reports closed

        for _ in range(3):
            await manager.until("WATCHDOG=1")

        proc.send_signal(signal.SIGSTOP)
        await _stopped(proc.pid)
        manager.drain()  # what it sent before it froze
        await asyncio.sleep(20 * PING)  # ten watchdog timeouts: systemd would have killed it
        assert manager.drain() == []
        proc.send_signal(signal.SIGCONT)
        await manager.until("WATCHDOG=1")  # it runs again, and so do the pings

        proc.send_signal(signal.SIGTERM)
        assert await manager.until(r"STOPPING=1\n.*") == "STOPPING=1\nSTATUS=stopping"
        async with asyncio.timeout(WAIT):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        output.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "sd_notify_failed" not in log
