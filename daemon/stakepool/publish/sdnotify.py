"""Telling systemd how the daemon is: READY, STATUS, WATCHDOG and STOPPING over ``$NOTIFY_SOCKET``.

The sd_notify protocol is one datagram of ``KEY=VALUE`` lines sent to the AF_UNIX socket named in
``$NOTIFY_SOCKET`` (a leading ``@`` names the abstract namespace). systemd documents the protocol
itself as the stable interface, so this is a few lines of ``socket`` instead of a libsystemd
binding. Outside systemd the variable is unset and every call is a no-op.

The watchdog is fed from the event loop itself (``SystemdReporter.run``): a loop that is blocked
(a runaway parse, a synchronous call that hangs) stops the pings, systemd sees ``WatchdogSec``
pass without one and restarts the service. A thread would keep pinging for a dead loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping

import structlog

from stakepool.chain.bus import EventBus
from stakepool.monitor.facts import EpochReport, Started

log = structlog.get_logger(__name__)

STATUS_REFRESH_SECONDS = 5.0
"""Without a watchdog, how often the not-ready reason is re-checked for ``STATUS=``."""


class SdNotify:
    """A datagram client for the notification socket; ``address=None`` makes it a no-op.

    Sends never block the event loop (the socket is non-blocking: if systemd's queue is full the
    message is dropped, and the next ping or status replaces it) and never raise: a notification
    that cannot be delivered is logged once, and the daemon carries on.
    """

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._socket: socket.socket | None = None
        self._failure_logged = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SdNotify:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _target(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            # Abstract namespace: the name starts with a NUL byte instead of "@".
            return b"\0" + self.address[1:].encode()
        return self.address

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True if delivered (False when disabled)."""
        if self.address is None or not assignments:
            return False
        for line in assignments:
            if "=" not in line or "\n" in line:
                raise ValueError(f"not a single KEY=VALUE line: {line!r}")
        payload = "\n".join(assignments).encode()
        try:
            if self._socket is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._socket = sock
            self._socket.sendto(payload, self._target())
        except OSError as exc:
            if not self._failure_logged:
                log.warning("sd_notify_failed", socket=self.address, error=str(exc))
                self._failure_logged = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *(() if status is None else (_status_line(status),)))

    def status(self, text: str) -> bool:
        return self.send(_status_line(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", _status_line("stopping"))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status_line(text: str) -> str:
    return "STATUS=" + " ".join(text.split())  # one line, whatever the text held


def watchdog_interval(
    environ: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """Seconds between pings: half of ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3) advises.

    None when no watchdog is asked for, or when ``$WATCHDOG_PID`` names another process (the
    variables were inherited, and the watchdog is that process's business, not ours).
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text and pid_text != str(os.getpid() if pid is None else pid):
        return None
    if not usec_text.isdigit() or int(usec_text) == 0:
        log.warning("watchdog_usec_invalid", value=usec_text)
        return None
    return int(usec_text) / 2_000_000


class SystemdReporter:
    """Tells systemd what the daemon does (a face on the event bus), plus the watchdog task.

    ``READY=1`` goes out with ``started``: the HTTP server is bound, a beacon node answered with
    the right chain and the pool is resolved, the moment ``/readyz`` turns ready. Each closed
    epoch becomes ``STATUS=epoch N processed, head S, finalized F``; while the daemon is not ready
    ``STATUS=`` carries the reason ``/readyz`` gives.
    """

    def __init__(self, notify: SdNotify, watchdog_seconds: float | None = None) -> None:
        self.notify = notify
        self.watchdog_seconds = watchdog_seconds
        self._last_reason: str | None = None
        self._progress: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SystemdReporter:
        notify = SdNotify.from_env(environ)
        return cls(notify, watchdog_interval(environ) if notify.enabled else None)

    # --- what it listens to --------------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(Started, self.started)
        bus.subscribe(EpochReport, self.epoch)

    def started(self, fact: Started) -> None:
        network = fact.spec.config_name or fact.spec.preset_base
        count = len(fact.members)
        self._progress = f"following {network} for {count} validator{'' if count == 1 else 's'}"
        self.notify.ready(self._progress)

    def epoch(self, report: EpochReport) -> None:
        self._progress = (
            f"epoch {report.epoch} processed, head {report.head.slot}, "
            f"finalized {report.head.finalized_epoch}"
        )
        if self._last_reason is None:
            self.notify.status(self._progress)

    # --- the task --------------------------------------------------------------------------------

    async def run(self, not_ready: Callable[[], str | None]) -> None:
        """Until cancelled: feed the watchdog and keep ``STATUS=`` on the not-ready reason.

        Returns at once outside systemd, so the supervisor's task group does not carry a task
        that does nothing.
        """
        if not self.notify.enabled:
            return
        log.info(
            "systemd_notify", socket=self.notify.address, watchdog_seconds=self.watchdog_seconds
        )
        period = self.watchdog_seconds or STATUS_REFRESH_SECONDS
        while True:
            if self.watchdog_seconds is not None:
                self.notify.watchdog()
            reason = not_ready()
            if reason != self._last_reason:
                self._last_reason = reason
                text = reason if reason is not None else self._progress
                if text is not None:
                    self.notify.status(text)
            await asyncio.sleep(period)

    def stopping(self) -> None:
        self.notify.stopping()
        self.notify.close()
