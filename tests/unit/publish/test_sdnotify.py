"""sd_notify against a real AF_UNIX datagram socket the test owns, as systemd's would be.

The client only ever ``sendto``s (no connect), so the unit suite's network block does not apply:
the "socket" here is a file in a private temporary directory or an abstract-namespace name.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import BLSPubkey, Epoch, Root, Slot, ValidatorIndex
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView
from stakepool.monitor.pool import PoolMember
from stakepool.publish.sdnotify import SdNotify, SystemdReporter, watchdog_interval
from stakepool.sim.presets import spec_for

WAIT = 10.0
"""Upper bound for a datagram the test expects; only a broken client ever waits this long."""


class Listener:
    """The service manager's end: a bound datagram socket, read without blocking."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address
        sock.setblocking(False)

    def drain(self) -> list[str]:
        """Every datagram queued now, oldest first."""
        got: list[str] = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return got

    async def next(self) -> str:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), WAIT)
        return data.decode()

    async def next_status(self) -> str:
        """The next datagram other than a watchdog ping."""
        while True:
            message = await self.next()
            if message != "WATCHDOG=1":
                return message


@pytest.fixture
def listener() -> Iterator[Listener]:
    # tmp_path can exceed the 108-byte limit of a socket path; a fresh directory in /tmp cannot.
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        path = os.path.join(directory, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        try:
            yield Listener(sock, path)
        finally:
            sock.close()


# --- the client ----------------------------------------------------------------------------------


async def test_outside_systemd_nothing_is_sent_and_the_task_ends_at_once() -> None:
    reporter = SystemdReporter.from_env({})
    assert not reporter.notify.enabled
    assert reporter.notify.ready("x") is False
    assert reporter.notify.watchdog() is False
    reporter.stopping()
    await asyncio.wait_for(reporter.run(lambda: "starting"), WAIT)  # returns: no idle task


def test_ready_and_its_status_travel_in_one_datagram(listener: Listener) -> None:
    notify = SdNotify.from_env({"NOTIFY_SOCKET": listener.address})
    assert notify.ready("following mainnet\n  for 3 validators")
    assert notify.status("epoch 123 processed, head 3950")
    assert notify.stopping()
    assert listener.drain() == [
        "READY=1\nSTATUS=following mainnet for 3 validators",  # a status stays on one line
        "STATUS=epoch 123 processed, head 3950",
        "STOPPING=1\nSTATUS=stopping",
    ]
    notify.close()


def test_abstract_namespace_address() -> None:
    name = f"stakepool-test-{os.getpid()}-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(WAIT)
        notify = SdNotify("@" + name)
        assert notify.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        notify.close()


def test_a_missing_socket_is_logged_once_and_never_raises() -> None:
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        notify = SdNotify(os.path.join(directory, "gone"))
        with capture_logs() as logs:
            assert notify.status("one") is False
            assert notify.watchdog() is False
        notify.close()
    assert [entry["event"] for entry in logs] == ["sd_notify_failed"]


def test_a_full_queue_drops_pings_instead_of_blocking_the_loop(listener: Listener) -> None:
    notify = SdNotify(listener.address)
    sent = 0
    with capture_logs():
        while notify.watchdog():  # nobody reads: the kernel queue fills up, then sends fail
            sent += 1
            assert sent < 1_000_000
    assert sent > 0
    listener.drain()
    assert notify.watchdog()  # room again: pings flow
    notify.close()


def test_a_line_without_key_is_a_programming_error(listener: Listener) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        SdNotify(listener.address).send("READY")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        SdNotify(listener.address).send("STATUS=a\nREADY=1")


# --- the watchdog --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),  # for us (pid 4242)
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # inherited: not ours
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_and_only_for_its_pid(
    environ: dict[str, str], expected: float | None
) -> None:
    with capture_logs():
        assert watchdog_interval(environ, pid=4242) == expected


def test_the_reporter_takes_socket_and_watchdog_from_the_environment() -> None:
    both = {"NOTIFY_SOCKET": "@sd", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
    reporter = SystemdReporter.from_env(both)
    assert (reporter.notify.address, reporter.watchdog_seconds) == ("@sd", 30.0)
    # A watchdog without a socket to ping: nothing to do.
    assert SystemdReporter.from_env({"WATCHDOG_USEC": "60000000"}).watchdog_seconds is None


async def test_pings_come_from_the_event_loop_so_a_blocked_loop_stops_them(
    listener: Listener,
) -> None:
    interval = 0.02
    reporter = SystemdReporter(SdNotify(listener.address), watchdog_seconds=interval)
    task = asyncio.create_task(reporter.run(lambda: None))
    try:
        for _ in range(3):
            assert await listener.next() == "WATCHDOG=1"
        seen_while_blocked: list[str] = []

        loop = asyncio.get_running_loop()
        unblocked: asyncio.Future[None] = loop.create_future()

        def block() -> None:
            listener.drain()  # what was sent before the loop stalled
            time.sleep(25 * interval)  # a blocking call on the loop, as a runaway parse would be
            seen_while_blocked.extend(listener.drain())  # still blocked: read before it returns
            unblocked.set_result(None)

        loop.call_soon(block)
        await unblocked
        assert seen_while_blocked == []  # a thread would have pinged ~25 times meanwhile
        assert await listener.next() == "WATCHDOG=1"  # the loop runs again: so do the pings
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        reporter.notify.close()


# --- what systemd is told ------------------------------------------------------------------------


def _spec() -> ChainSpec:
    return ChainSpec.from_api(spec_for("minimal"), 1_600_000_000, "0x" + "11" * 32)


def _report(epoch: int, head_slot: int, finalized: int) -> EpochReport:
    head = HeadView(
        Slot(head_slot), Root("0x" + "22" * 32), Epoch(head_slot // 8), Epoch(0), Epoch(finalized)
    )
    return EpochReport(Epoch(epoch), Slot(epoch * 8 + 7), {}, None, head)


async def test_status_tells_why_not_ready_then_progress(listener: Listener) -> None:
    reporter = SystemdReporter(SdNotify(listener.address), watchdog_seconds=0.01)
    reason: list[str | None] = ["starting: waiting for a beacon node"]
    task = asyncio.create_task(reporter.run(lambda: reason[0]))
    try:
        assert await listener.next_status() == "STATUS=starting: waiting for a beacon node"
        members = (PoolMember(ValidatorIndex(3), BLSPubkey("0x" + "ab" * 48), None),)
        reporter.started(Started(_spec(), members, ("http://127.0.0.1:5052",)))
        assert (
            await listener.next_status()
            == "READY=1\nSTATUS=following stakepool-sim-minimal for 1 validator"
        )
        reason[0] = None
        # Ready now: the status goes back to what the daemon does.
        assert (
            await listener.next_status() == "STATUS=following stakepool-sim-minimal for 1 validator"
        )
        reporter.epoch(_report(12, 104, 10))
        assert await listener.next_status() == "STATUS=epoch 12 processed, head 104, finalized 10"
        reason[0] = "no beacon node reachable"
        assert await listener.next_status() == "STATUS=no beacon node reachable"
        reporter.epoch(_report(13, 112, 11))  # while unready, the reason stays on show
        reason[0] = None
        assert await listener.next_status() == "STATUS=epoch 13 processed, head 112, finalized 11"
        reporter.stopping()
        assert await listener.next_status() == "STOPPING=1\nSTATUS=stopping"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        reporter.notify.close()
