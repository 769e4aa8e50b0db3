"""The outbox drained to a real mosquitto: every event arrives, an outage loses nothing, the
retained status tells the truth, a refused login is said clearly and retried."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator

import pytest
import structlog
from pydantic import SecretStr

from stakepool.beacon.backoff import Backoff
from stakepool.config import MqttSettings
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import MqttPublisher
from stakepool.store import outbox
from stakepool.store.database import Database
from stakepool.store.outbox_queue import OutboxQueue
from tests.integration.mqtt.broker import PASSWORD, USERNAME, Mosquitto
from tests.integration.mqtt.kit import (
    WAIT_SECONDS,
    Gate,
    Subscriber,
    eventually,
    retained_status,
    sample_events,
)

POOL = "pool-a"
ROOT = f"stakepool/{POOL}"
FAST = Backoff(base=0.05, factor=2.0, maximum=0.5, jitter=0.5)


def _publisher(db: Database, metrics: Metrics, url: str, **settings: object) -> MqttPublisher:
    return MqttPublisher(
        MqttSettings.model_validate({"url": url, **settings}),
        OutboxQueue(db),
        metrics.delivery,
        pool_id=POOL,
        batch_size=64,
        poll_seconds=0.2,
        operation_timeout=5.0,
        backoff=FAST,
    )


@contextlib.asynccontextmanager
async def _running(publisher: MqttPublisher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(publisher.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _ended(task: asyncio.Task[None]) -> bool:
    """Whether a cancelled task ended by that cancel (bounded wait: a hang guard, not a timing
    assertion). ``asyncio.wait`` does not cancel the task again on timeout as awaiting it would,
    so a swallowed cancel shows up as a task still running."""
    await asyncio.wait({task}, timeout=WAIT_SECONDS)
    if not task.done():
        task.cancel()  # clean up for the next test
        await asyncio.wait({task}, timeout=WAIT_SECONDS)
        return False
    return task.cancelled()


def _sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def _enqueue(db: Database, events: list[outbox.OutboxEvent], max_rows: int = 100_000) -> int:
    return db.write_sync(lambda conn: outbox.enqueue(conn, events, max_rows=max_rows))


async def test_a_subscriber_sees_every_enqueued_event_in_order(
    broker: Mosquitto, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics(pool_id=POOL)
    before = sample_events(POOL, 150)
    _enqueue(db, before)  # left by an earlier run: must go out first, without a notify
    publisher = _publisher(db, metrics, broker.url)
    async with Subscriber(broker.port, f"{ROOT}/#") as sub, _running(publisher):
        await eventually(lambda: len(sub.event_ids()) == 150, "the first 150 events")
        after = sample_events(POOL, 40, first_epoch=500)
        await db.write(lambda conn: outbox.enqueue(conn, after, max_rows=100_000))
        publisher.notify()
        await eventually(lambda: len(sub.event_ids()) == 190, "all 190 events")
        await eventually(lambda: db.read_sync(outbox.depth) == 0, "an empty outbox")
        status = await retained_status(broker.port, f"{ROOT}/status")

    everything = before + after
    assert sub.event_ids() == [e.event_id for e in everything]  # oldest first, none twice
    by_id = {e.event_id: e for e in everything}
    for message in sub.messages:
        if "/events/" not in message.topic:
            continue
        body = json.loads(message.payload)
        event = by_id[body["event_id"]]
        assert message.topic == f"{ROOT}/events/{event.kind}"
        assert message.payload == event.payload  # the envelope, byte for byte
        assert body["schema_version"] == 1
        assert body["pool_id"] == POOL
        assert message.qos == 1
        assert not message.retain  # nothing but the status is retained
    alerts = [m for m in sub.messages if "/alerts/" in m.topic]
    expected_alerts = [e for e in everything if e.severity in ("warning", "critical")]
    assert [json.loads(m.payload)["event_id"] for m in alerts] == [
        e.event_id for e in expected_alerts
    ]
    assert all(m.topic == f"{ROOT}/alerts/{json.loads(m.payload)['severity']}" for m in alerts)
    assert {m.topic for m in alerts} == {f"{ROOT}/alerts/warning", f"{ROOT}/alerts/critical"}
    assert status == "online"
    # Draining a backlog is routine: no library warning per publish in the operator's log.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert _sample(metrics, "stakepool_mqtt_messages_published_total") == 190
    assert _sample(metrics, "stakepool_mqtt_publish_failures_total") == 0
    assert _sample(metrics, "stakepool_outbox_depth") == 0


async def test_clean_shutdown_leaves_a_retained_offline(broker: Mosquitto, db: Database) -> None:
    metrics = Metrics(pool_id=POOL)
    publisher = _publisher(db, metrics, broker.url)
    async with _running(publisher):
        await eventually(lambda: publisher.connected, "connected")
        assert await retained_status(broker.port, f"{ROOT}/status") == "online"
        assert _sample(metrics, "stakepool_mqtt_connected") == 1
    assert await retained_status(broker.port, f"{ROOT}/status") == "offline"
    assert _sample(metrics, "stakepool_mqtt_connected") == 0


async def test_a_broker_outage_loses_nothing(broker: Mosquitto, db: Database) -> None:
    metrics = Metrics(pool_id=POOL)
    gate = Gate(broker.port)
    await gate.start()
    publisher = _publisher(db, metrics, f"mqtt://127.0.0.1:{gate.port}")
    first = sample_events(POOL, 30)
    during = sample_events(POOL, 120, first_epoch=300)
    try:
        async with _running(publisher):
            async with Subscriber(broker.port, f"{ROOT}/events/#") as sub:
                _enqueue(db, first)
                publisher.notify()
                await eventually(lambda: len(sub.event_ids()) == 30, "the events before the outage")
                await eventually(lambda: db.read_sync(outbox.depth) == 0, "their acks")
            broker.stop()
            await eventually(lambda: not publisher.connected, "the publisher sees the outage")
            assert _sample(metrics, "stakepool_mqtt_connected") == 0
            _enqueue(db, during)
            publisher.notify()
            # While the broker is away the events wait in the outbox, and the metric says so.
            await eventually(
                lambda: metrics.registry.get_sample_value("stakepool_outbox_depth") == 120,
                "the depth metric during the outage",
            )
            gate.open = False  # the publisher stays out until a subscriber is back
            broker.start()
            async with Subscriber(broker.port, f"{ROOT}/events/#") as sub:
                gate.open = True
                await eventually(lambda: len(sub.event_ids()) >= 120, "the events of the outage")
                await eventually(lambda: db.read_sync(outbox.depth) == 0, "an empty outbox")
                await eventually(
                    lambda: metrics.registry.get_sample_value("stakepool_outbox_depth") == 0,
                    "the depth metric back at 0",
                )
    finally:
        await gate.close()
    received = sub.event_ids()
    # At least once: a PUBACK lost in the outage may repeat an event, never lose one.
    assert set(received) == {e.event_id for e in during}
    assert _sample(metrics, "stakepool_mqtt_messages_published_total") >= 150


async def test_the_outbox_bound_drops_the_oldest_and_counts_them(
    broker: Mosquitto, db: Database
) -> None:
    metrics = Metrics(pool_id=POOL)
    events = sample_events(POOL, 80)
    assert _enqueue(db, events[:50], max_rows=50) == 0
    assert _enqueue(db, events[50:], max_rows=50) == 30  # the 30 oldest make room
    publisher = _publisher(db, metrics, broker.url)
    async with Subscriber(broker.port, f"{ROOT}/events/#") as sub, _running(publisher):
        await eventually(lambda: len(sub.event_ids()) == 50, "the 50 kept events")
        await eventually(lambda: db.read_sync(outbox.depth) == 0, "an empty outbox")
    assert sub.event_ids() == [e.event_id for e in events[30:]]
    assert _sample(metrics, "stakepool_outbox_dropped_total") == 30
    assert db.read_sync(outbox.dropped_total) == 30


async def test_the_password_listener_lets_the_right_login_in(
    broker: Mosquitto, db: Database
) -> None:
    metrics = Metrics(pool_id=POOL)
    _enqueue(db, sample_events(POOL, 10))
    publisher = _publisher(
        db, metrics, broker.auth_url, username=USERNAME, password=SecretStr(PASSWORD)
    )
    # The subscriber reads through the anonymous listener: one broker, one topic tree.
    async with Subscriber(broker.port, f"{ROOT}/#") as sub, _running(publisher):
        await eventually(lambda: len(sub.event_ids()) == 10, "the events via the auth listener")
    assert [m.payload for m in sub.on("/status")] == ["online", "offline"]


@pytest.mark.parametrize(
    ("username", "password"), [(USERNAME, "wrong password"), ("nobody", PASSWORD)]
)
async def test_wrong_credentials_are_logged_clearly_and_retried(
    broker: Mosquitto, db: Database, username: str, password: str
) -> None:
    metrics = Metrics(pool_id=POOL)
    _enqueue(db, sample_events(POOL, 5))
    publisher = _publisher(
        db, metrics, broker.auth_url, username=username, password=SecretStr(password)
    )
    with structlog.testing.capture_logs() as logs:
        async with _running(publisher) as task:
            await eventually(
                lambda: len([e for e in logs if e["event"] == "mqtt_connect_refused"]) >= 3,
                "three refused attempts",
            )
            assert not task.done()  # still retrying, nothing raised
    refused = [e for e in logs if e["event"] == "mqtt_connect_refused"]
    first = refused[0]
    assert first["log_level"] == "error"
    assert first["auth"] is True
    assert first["reason"] in ("Not authorized", "Bad user name or password")
    assert "mqtt_password" in first["hint"]
    assert first["username"] == username
    assert password not in json.dumps(refused, default=str)  # the secret never reaches a log
    assert [e["attempt"] for e in refused[:3]] == [1, 2, 3]
    assert _sample(metrics, "stakepool_mqtt_connected") == 0
    assert db.read_sync(outbox.depth) == 5  # nothing was lost while refused
    assert await retained_status(broker.port, f"{ROOT}/status") is None


async def test_an_unusable_kind_still_goes_out(broker: Mosquitto, db: Database) -> None:
    bad = outbox.OutboxEvent("bad:1", "duty/missed+#", "info", '{"kind":"duty/missed+#"}')
    _enqueue(db, [bad, *sample_events(POOL, 3)])
    metrics = Metrics(pool_id=POOL)
    async with (
        Subscriber(broker.port, f"{ROOT}/events/#") as sub,
        _running(_publisher(db, metrics, broker.url)),
    ):
        await eventually(lambda: len(sub.messages) == 4, "all four events")
    assert sub.messages[0].topic == f"{ROOT}/events/unknown"
    assert sub.messages[0].payload == bad.payload


async def test_a_hung_broker_cannot_hold_the_shutdown(broker: Mosquitto, db: Database) -> None:
    metrics = Metrics(pool_id=POOL)
    publisher = _publisher(db, metrics, broker.url)
    task = asyncio.create_task(publisher.run())
    await eventually(lambda: publisher.connected, "connected")
    assert broker.process is not None
    broker.process.send_signal(signal.SIGSTOP)  # alive, connected, answering nothing
    try:
        task.cancel()
        assert await _ended(task), "the publisher did not stop"
    finally:
        broker.process.send_signal(signal.SIGCONT)
    # What we wrote on the way out was in the socket: the broker reads it when it wakes up.
    seen = []
    for _ in range(100):  # bounded; the broker needs a moment to catch up after SIGCONT
        seen.append(await retained_status(broker.port, f"{ROOT}/status"))
        if seen[-1] == "offline":
            break
        await asyncio.sleep(0.1)
    assert seen[-1] == "offline", seen


async def test_a_failing_outbox_says_offline_and_the_publisher_carries_on(
    broker: Mosquitto, db: Database
) -> None:
    metrics = Metrics(pool_id=POOL)
    publisher = _publisher(db, metrics, broker.url)
    with structlog.testing.capture_logs() as logs:
        async with Subscriber(broker.port, f"{ROOT}/status") as sub, _running(publisher) as task:
            await eventually(lambda: [m.payload for m in sub.messages] == ["online"], "online")
            db.close()  # every read of the outbox fails from now on
            await eventually(
                lambda: sum(e["event"] == "mqtt_outbox_failed" for e in logs) >= 2,
                "two failed rounds",
            )
            statuses = [m.payload for m in sub.messages]
            assert not task.done()  # still trying
    # The crash path said `offline` itself (a clean DISCONNECT would discard the will).
    assert statuses[:2] == ["online", "offline"]
    failure = next(e for e in logs if e["event"] == "mqtt_outbox_failed")
    assert failure["log_level"] == "error"
    assert "closed" in failure["error"]


async def test_a_stop_right_after_connecting_always_stops(broker: Mosquitto, db: Database) -> None:
    # The cancel lands while `online` waits for its PUBACK: on Python 3.11 aiomqtt's wait_for
    # swallows a cancel that arrives as the PUBACK does. Cancelling 0, 1, 2, … loop turns after
    # the connection sweeps that window; every stop must still end the publisher.
    metrics = Metrics(pool_id=POOL)
    for turns in range(30):
        publisher = _publisher(db, metrics, broker.url)
        task = asyncio.create_task(publisher.run())
        for _ in range(200_000):  # bounded spin, one loop turn at a time
            if publisher.connected:
                break
            await asyncio.sleep(0)
        assert publisher.connected
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        assert await _ended(task), f"still running after a cancel {turns} turns after connecting"
    assert await retained_status(broker.port, f"{ROOT}/status") == "offline"
