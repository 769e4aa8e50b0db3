"""mqtts:// against a mosquitto listener with mutual TLS: the CA pins the broker, the client
certificate identifies us, and a broker that fails the checks is refused with a clear log line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from stakepool.beacon.backoff import Backoff
from stakepool.config import MqttSettings
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import MqttPublisher
from stakepool.store import outbox
from stakepool.store.database import Database
from stakepool.store.outbox_queue import OutboxQueue
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Subscriber, eventually, sample_events

# paho-mqtt 2.2 does not close the socket when the TLS handshake fails (`_ssl_wrap_socket`
# raises from do_handshake), so a refused broker leaves one SSLSocket per attempt for the garbage
# collector, and pytest turns its ResourceWarning into an error. Only the refusal tests allow it.
PAHO_LEAKS_ON_HANDSHAKE_FAILURE = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)

POOL = "pool-t"
ROOT = f"stakepool/{POOL}"


def _publisher(db: Database, url: str, **tls: object) -> MqttPublisher:
    return MqttPublisher(
        MqttSettings.model_validate({"url": url, **tls}),
        OutboxQueue(db),
        Metrics(pool_id=POOL).delivery,
        pool_id=POOL,
        poll_seconds=0.2,
        operation_timeout=5.0,
        backoff=Backoff(base=0.05, maximum=0.5),
    )


def _tls_options(broker: Mosquitto, **extra: object) -> dict[str, object]:
    assert broker.tls is not None
    files = broker.tls
    options: dict[str, Path | object] = {
        "ca_file": files.ca,
        "cert_file": files.client_cert,
        "key_file": files.client_key,
    }
    return options | extra


@contextlib.asynccontextmanager
async def _running(publisher: MqttPublisher) -> AsyncIterator[None]:
    task = asyncio.create_task(publisher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_events_go_out_over_mutual_tls(tls_broker: Mosquitto, db: Database) -> None:
    events = sample_events(POOL, 12)
    db.write_sync(lambda conn: outbox.enqueue(conn, events, max_rows=1000))
    publisher = _publisher(
        db, f"mqtts://localhost:{tls_broker.tls_port}", **_tls_options(tls_broker)
    )
    async with Subscriber(tls_broker.port, f"{ROOT}/#") as sub, _running(publisher):
        await eventually(lambda: len(sub.event_ids()) == 12, "the events over TLS")
    assert sub.event_ids() == [e.event_id for e in events]
    assert [m.payload for m in sub.on("/status")] == ["online", "offline"]


@PAHO_LEAKS_ON_HANDSHAKE_FAILURE
async def test_a_broker_whose_name_does_not_match_is_refused_unless_insecure(
    tls_broker: Mosquitto, db: Database
) -> None:
    # The certificate says "localhost"; the URL says 127.0.0.1.
    url = f"mqtts://127.0.0.1:{tls_broker.tls_port}"
    publisher = _publisher(db, url, **_tls_options(tls_broker))
    with structlog.testing.capture_logs() as logs:
        async with _running(publisher):
            await eventually(
                lambda: any(e["event"] == "mqtt_connect_failed" for e in logs), "a refusal"
            )
            assert not publisher.connected
    failure = next(e for e in logs if e["event"] == "mqtt_connect_failed")
    assert "certificate verify failed" in failure["error"]
    assert "127.0.0.1" in failure["error"]  # says what did not match

    insecure = _publisher(db, url, **_tls_options(tls_broker, tls_insecure=True))
    async with _running(insecure):
        await eventually(lambda: insecure.connected, "connected without the hostname check")


@PAHO_LEAKS_ON_HANDSHAKE_FAILURE
async def test_a_broker_not_signed_by_the_configured_ca_is_refused(
    tls_broker: Mosquitto, db: Database
) -> None:
    assert tls_broker.tls is not None
    # The client's own certificate is not a CA: nothing the broker shows chains to it.
    publisher = _publisher(
        db,
        f"mqtts://localhost:{tls_broker.tls_port}",
        **_tls_options(tls_broker, ca_file=tls_broker.tls.client_cert),
    )
    with structlog.testing.capture_logs() as logs:
        async with _running(publisher):
            await eventually(
                lambda: sum(e["event"] == "mqtt_connect_failed" for e in logs) >= 2,
                "two refused attempts",
            )
            assert not publisher.connected
    failure = next(e for e in logs if e["event"] == "mqtt_connect_failed")
    assert "certificate verify failed" in failure["error"]
