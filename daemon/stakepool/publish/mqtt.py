"""MQTT delivery: drain the outbox to the broker, QoS 1, and keep the retained status honest.

Events reach the broker only through the outbox (``store.outbox``): producers enqueue in
the same transaction as the state that caused them, this publisher reads ``pending`` rows oldest
first, publishes each with QoS 1 and ``ack``s (deletes) a row only after the broker's PUBACK for
every topic it goes to. A broker outage or a daemon restart therefore loses nothing; a row may be
published twice (crash between PUBACK and ack), which is why consumers deduplicate on
``event_id``.

The retained ``<prefix>/<pool>/status`` is ``online`` while connected. The broker publishes the
retained ``offline`` will when the connection dies without a DISCONNECT (SIGKILL, power cut,
network partition after ~1.5× keepalive). aiomqtt 2.x always sends a clean DISCONNECT when its
context exits, even on an exception, and a clean DISCONNECT discards the will, so every exit from
a connection publishes the retained ``offline`` itself first (``finally``). With several instances
on one PostgreSQL ledger only the writer's session speaks on that topic (``mqtt_claim``).

aiomqtt 2.x has no reconnect of its own: ``run`` is the documented outer loop (a fresh client per
attempt, exponential backoff with jitter). No error here stops the daemon: a refused login, a
broker away for days or a database hiccup is logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Protocol

import aiomqtt
import structlog
from aiomqtt.exceptions import MqttConnectError

from stakepool.beacon.backoff import Backoff
from stakepool.chain.redact import Redactor
from stakepool.config import MqttSettings
from stakepool.publish.ledger_metrics import DeliveryMetrics
from stakepool.publish.mqtt_broker import (
    BrokerConfigError,
    BrokerOptions,
    broker_options,
    is_auth_refusal,
    refusal_hint,
    tls_context,
)
from stakepool.publish.mqtt_claim import RoleChanged, StatusClaim
from stakepool.publish.mqtt_topics import Topics
from stakepool.store.database import STORE_ERRORS
from stakepool.store.outbox_event import OutboxRow
from stakepool.store.outbox_queue import OutboxQueue

log = structlog.get_logger("stakepool.mqtt")

RECONNECT = Backoff(base=1.0, factor=2.0, maximum=60.0, jitter=0.5)


class EventPublisher(Protocol):
    """What the supervisor and the producers see of event delivery."""

    def notify(self) -> None:
        """New rows are in the outbox (call after the enqueuing transaction committed)."""

    async def run(self) -> None:
        """Deliver until cancelled or finished; never raises on broker trouble."""

    async def finish(self, run: asyncio.Task[None], grace_seconds: float) -> int:
        """A clean stop of the task running ``run``: deliver what is in the outbox for at most
        ``grace_seconds``, then say ``offline``; returns the events left for the next start."""


class MqttPublisher:
    """The outbox drain on aiomqtt; ``run`` in the supervisor's TaskGroup, ``notify`` from producers."""

    def __init__(
        self,
        settings: MqttSettings,
        outbox: OutboxQueue,
        metrics: DeliveryMetrics,
        *,
        pool_id: str,
        batch_size: int = 256,
        poll_seconds: float = 2.0,
        operation_timeout: float = 10.0,
        backoff: Backoff = RECONNECT,
        redactor: Redactor | None = None,
        writer: Callable[[], bool] | None = None,
        instance: str | None = None,
    ) -> None:
        # Payloads are built from chain data, never from settings; the redactor is the last line
        # of defence should a secret ever reach one (an error text carried into an event).
        self._redactor = redactor or Redactor()
        self.options: BrokerOptions = broker_options(settings, pool_id, instance=instance)
        self._tls = tls_context(settings) if self.options.tls else None
        self.topics = Topics(settings.topic_prefix, pool_id)
        self._claim = StatusClaim(self.topics, writer)
        """``writer``: the ledger role (several instances); only the writer speaks for the pool."""
        self._outbox = outbox
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._timeout = operation_timeout
        self._backoff = backoff
        self._wake = asyncio.Event()
        self._dropped_seen = 0
        self._session_up = False
        self._finishing = False
        self.connected = False

    def notify(self) -> None:
        self._wake.set()

    # --- a clean stop ----------------------------------------------------------------------------

    async def finish(self, run: asyncio.Task[None], grace_seconds: float) -> int:
        """Called once the producers have stopped, so the outbox only shrinks from here.

        Connected: the drain goes on until the outbox is empty (then ``offline`` and DISCONNECT,
        in that order, so every event precedes the status) or the grace period is over (then
        cancelled, which still says ``offline``). Not connected (the broker is down, or the
        connection is still being made): no grace is spent waiting on a broker that is not
        there. Either way nothing is lost: unacknowledged rows stay in the outbox."""
        self._finishing = True
        self._wake.set()
        connected_at_stop = self.connected
        if connected_at_stop and grace_seconds > 0:
            await asyncio.wait({run}, timeout=grace_seconds)
        if not run.done():
            run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        try:
            left = await self._outbox.depth()
        except STORE_ERRORS as exc:
            log.error("mqtt_outbox_unreadable_at_stop", error=str(exc))
            return -1
        self._metrics.outbox_depth.set(left)
        if left:
            log.warning(
                "mqtt_outbox_left_at_stop",
                events=left,
                reason="grace period over" if connected_at_stop else "broker not connected",
                grace_seconds=grace_seconds,
                hint="kept in the outbox; delivered after the next start",
            )
        else:
            log.info("mqtt_outbox_delivered_at_stop", events_left=0)
        return left

    # --- the connection loop ---------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while True:
            self._session_up = False
            broker_trouble = False
            try:
                await self._connection()
            except RoleChanged as exc:
                # Not trouble: a session that fits the new role, at once.
                log.info("mqtt_role_changed", role=str(exc), claims_status=self._claim.wanted())
                attempt = 0
                continue
            except aiomqtt.MqttError as exc:
                broker_trouble = True
                self._log_mqtt_error(exc, attempt)
            except STORE_ERRORS as exc:
                log.error("mqtt_outbox_failed", error=str(exc), attempt=attempt + 1)
            except Exception:  # a bug must not take the daemon down with it: log, back off, retry
                log.exception("mqtt_publisher_failed", attempt=attempt + 1)
            finally:
                self._set_connected(False)
            if self._finishing:
                return  # drained (or the broker went while draining): the stop decides the rest
            # Shutting down, but the CancelledError got lost on the way out (a DISCONNECT that
            # timed out replaced it, or Python 3.11's wait_for inside aiomqtt swallowed it):
            # the stop wins, or the supervisor would wait for a publisher that never ends.
            _raise_if_cancelling()
            if self._session_up and broker_trouble:
                # The session worked until the broker went: a fresh outage starts the backoff
                # over. Our own failures (database, bugs) keep backing off, so a persistent one
                # does not flap the retained status every second.
                attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            await self._wait_offline(delay)

    async def _wait_offline(self, seconds: float) -> None:
        """Back off, keeping the depth and drop metrics current: an outage is exactly when the
        operator watches the outbox grow."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._finishing:
            _raise_if_cancelling()
            with contextlib.suppress(*STORE_ERRORS):
                snap = await self._outbox.snapshot(0)
                self._observe(snap.depth, snap.dropped)
            left = deadline - loop.time()
            if left <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, self._poll_seconds)):
                    await self._wake.wait()

    async def _connection(self) -> None:
        """One session: connect, announce ``online``, drain until something breaks."""
        o = self.options
        client = aiomqtt.Client(
            o.host,
            o.port,
            username=o.username,
            password=o.password,
            identifier=o.client_id,
            keepalive=o.keepalive,
            will=self._claim.will(),
            tls_context=self._tls,
            timeout=self._timeout,
            clean_session=True,
        )
        # A batch is published concurrently (up to two topics a row); aiomqtt warns on every
        # publish past this many in flight, which would flood the log while draining a backlog.
        client.pending_calls_threshold = 2 * self._batch_size + 10
        async with client:
            self._session_up = True
            self._set_connected(True)
            log.info("mqtt_connected", broker=o.address, client_id=o.client_id)
            try:
                _raise_if_cancelling()
                await self._claim.announce(client)
                _raise_if_cancelling()
                await self._serve(client)
            finally:
                await self._say_offline(client)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Drain until the connection drops or the drain fails, whichever comes first.

        Plain tasks, not a TaskGroup: on Python 3.11 a TaskGroup whose child fails while the
        group is already exiting leaves the parent task's cancel request counted (fixed in 3.12),
        and ``_raise_if_cancelling`` would then stop a publisher nobody asked to stop."""
        watch = asyncio.create_task(self._claim.watch(client), name="mqtt_watch")
        drain = asyncio.create_task(self._drain(client), name="mqtt_drain")
        try:
            done, _ = await asyncio.wait((watch, drain), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watch, drain):
                task.cancel()
            await asyncio.gather(watch, drain, return_exceptions=True)
        for task in done:
            task.result()  # raises what ended it
        if self._finishing:
            return  # the drain emptied the outbox for a clean stop
        raise aiomqtt.MqttError("the MQTT session ended")  # otherwise both loops end by raising

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        # Runs on clean shutdown (cancelled) and on failures alike: the clean DISCONNECT that
        # follows suppresses the will, so `offline` must be published by us.
        await self._claim.say_offline(client)
        # The DISCONNECT that follows waits `timeout` for the broker; on the way out 2 s will do
        # (SIGTERM must stop the daemon within a few seconds). `timeout` is aiomqtt's public knob.
        client.timeout = min(client.timeout, 2.0)
        # The DISCONNECT that follows waits `timeout` for the broker; on the way out 2 s will do
        # (SIGTERM must stop the daemon within a few seconds). `timeout` is aiomqtt's public knob.
        client.timeout = min(client.timeout, 2.0)

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._metrics.mqtt_connected.set(1 if connected else 0)

    def _log_mqtt_error(self, exc: aiomqtt.MqttError, attempt: int) -> None:
        code = _reason_value(exc)
        if isinstance(exc, MqttConnectError) and code is not None:
            # A refused login never fixes itself: say so at error level, every attempt (backoff
            # caps the rate), with what to check.
            log.error(
                "mqtt_connect_refused",
                broker=self.options.address,
                username=self.options.username,
                reason=_reason_text(exc),
                code=code,
                auth=is_auth_refusal(code),
                hint=refusal_hint(code),
                attempt=attempt + 1,
            )
            return
        log.warning(
            "mqtt_disconnected" if self._session_up else "mqtt_connect_failed",
            broker=self.options.address,
            error=str(exc),
            attempt=attempt + 1,
        )

    # --- the outbox drain ------------------------------------------------------------------------

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            _raise_if_cancelling()
            self._claim.check()  # hold_lease notifies a role change: the loop wakes for it
            # Cleared before reading: a notify() during the read or the publishes wakes the next
            # round at once instead of waiting for the poll.
            self._wake.clear()
            snap = await self._outbox.snapshot(self._batch_size)
            self._observe(snap.depth, snap.dropped)
            if not snap.rows:
                if self._finishing:
                    return  # a clean stop and nothing left: `offline` may go out now
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wake.wait()
                continue
            await self._deliver(client, snap.rows)

    async def _deliver(self, client: aiomqtt.Client, rows: Sequence[OutboxRow]) -> None:
        """Publish a batch concurrently (paho keeps the order on the wire, QoS 1 in flight in
        parallel), ack what the broker acknowledged, then fail if anything did not go."""
        results = await asyncio.gather(
            *(self._publish_row(client, row) for row in rows), return_exceptions=True
        )
        done = [row.id for row, result in zip(rows, results, strict=True) if result is None]
        failed = [r for r in results if isinstance(r, BaseException)]
        if done:
            await self._outbox.ack(done)
            self._metrics.mqtt_published.inc(len(done))
            self._metrics.outbox_depth.dec(len(done))
        if failed:
            self._metrics.mqtt_failures.inc(len(failed))
            for result in failed:
                if not isinstance(result, Exception):
                    raise result  # CancelledError and friends go on as they are
            raise failed[0]

    async def _publish_row(self, client: aiomqtt.Client, row: OutboxRow) -> None:
        for topic in self.topics.for_event(row.kind, row.severity):
            await client.publish(topic, self._redactor.text(row.payload), qos=1, retain=False)

    def _observe(self, depth: int, dropped: int) -> None:
        self._metrics.outbox_depth.set(depth)
        if dropped > self._dropped_seen:
            # The database counts drops across restarts; the counter follows it.
            self._metrics.outbox_dropped.inc(dropped - self._dropped_seen)
            self._dropped_seen = dropped


def _raise_if_cancelling() -> None:
    """Honour a cancel request that an await swallowed.

    On Python 3.11, ``asyncio.wait_for`` (which aiomqtt 2.x uses for every broker round trip)
    returns the result instead of raising when the cancel arrives as the awaited operation
    completes (fixed in 3.12). The request is still counted on the task, so check it at the
    loops' safe points."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _reason_value(exc: aiomqtt.MqttError) -> int | None:
    rc = getattr(exc, "rc", None)
    if rc is None:
        return None
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def _reason_text(exc: aiomqtt.MqttError) -> str:
    rc = getattr(exc, "rc", None)
    return str(rc) if rc is not None and not isinstance(rc, int) else str(exc)


def build_publisher(
    settings: MqttSettings,
    outbox: OutboxQueue,
    metrics: DeliveryMetrics,
    *,
    pool_id: str,
    redactor: Redactor | None = None,
    writer: Callable[[], bool] | None = None,
    instance: str | None = None,
) -> MqttPublisher | None:
    """The publisher when ``[mqtt] url`` is set, else None; ``BrokerConfigError`` if unusable.
    ``writer`` and ``instance``: one of several instances on a PostgreSQL ledger."""
    if settings.url is None:
        return None
    return MqttPublisher(
        settings,
        outbox,
        metrics,
        pool_id=pool_id,
        redactor=redactor,
        writer=writer,
        instance=instance,
    )


__all__ = [
    "BrokerConfigError",
    "EventPublisher",
    "MqttPublisher",
    "build_publisher",
]
