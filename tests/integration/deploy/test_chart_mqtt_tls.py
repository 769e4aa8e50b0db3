"""The chart's mqtt.tls end to end: the config.toml it renders and the Secret's files where the pod
mounts them make the daemon's publisher deliver over mutual TLS to a real mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from stakepool.beacon.backoff import Backoff
from stakepool.config import Settings
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import MqttPublisher
from stakepool.store import outbox
from stakepool.store.database import Database
from stakepool.store.outbox_queue import OutboxQueue
from tests.integration.mqtt.broker import MOSQUITTO, Mosquitto
from tests.integration.mqtt.kit import Subscriber, eventually, sample_events
from tests.unit.deploy.chartkit import render
from tests.unit.deploy.podview import as_the_pod_sees_it

POOL = "delta"
SECRET = "stakepool-mqtt-client"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Mosquitto with a listener that wants a client certificate from its CA (``tls_port``)."""
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run scripts/test (it installs the Debian package)")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    server = Mosquitto(workdir, tls=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "ledger.sqlite")
    yield database
    database.close()


def _pod_settings(
    broker: Mosquitto, root: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]
) -> Settings:
    """The settings the pod loads, with a cert-manager style Secret built from the broker's CA
    and client certificate."""
    assert broker.tls is not None
    values: dict[str, Any] = {
        "config": {
            "pool": {"id": POOL, "validators": [1]},
            "mqtt": {"url": f"mqtts://localhost:{broker.tls_port}"},
        },
        "mqtt": {"tls": {"existingSecret": SECRET, "keys": keys}},
    }
    secret = {
        "ca.crt": broker.tls.ca.read_bytes(),
        "tls.crt": broker.tls.client_cert.read_bytes(),
        "tls.key": broker.tls.client_key.read_bytes(),
    }
    return as_the_pod_sees_it(
        render(values), root / "pod", monkeypatch, existing_secrets={SECRET: secret}
    )


def _publisher(settings: Settings, db: Database) -> MqttPublisher:
    return MqttPublisher(
        settings.mqtt,
        OutboxQueue(db),
        Metrics(pool_id=POOL).delivery,
        pool_id=POOL,
        poll_seconds=0.2,
        operation_timeout=5.0,
        backoff=Backoff(base=0.05, maximum=0.5),
    )


@contextlib.asynccontextmanager
async def _running(publisher: MqttPublisher) -> AsyncIterator[None]:
    task = asyncio.create_task(publisher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_mounted_secret_carries_events_over_mutual_tls(
    tls_broker: Mosquitto, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pod_settings(tls_broker, tmp_path, monkeypatch, keys={})
    assert settings.mqtt.key_file == tmp_path / "pod/etc/stakepool-mqtt-tls/tls.key"
    events = sample_events(POOL, 5)
    db.write_sync(lambda conn: outbox.enqueue(conn, events, max_rows=1000))
    publisher = _publisher(settings, db)
    async with Subscriber(tls_broker.port, f"stakepool/{POOL}/#") as sub, _running(publisher):
        await eventually(lambda: len(sub.event_ids()) == 5, "the events over TLS")
    assert sub.event_ids() == [e.event_id for e in events]


# paho-mqtt 2.2 leaves the socket of a failed TLS handshake to the garbage collector (see
# tests/integration/mqtt/test_mqtt_tls.py).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_without_the_client_certificate_the_broker_refuses(
    tls_broker: Mosquitto, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same Secret with only its CA mounted: the broker asks for a certificate and gets none,
    so the certificate the chart mounts is what lets the daemon in."""
    settings = _pod_settings(tls_broker, tmp_path, monkeypatch, keys={"cert": "", "key": ""})
    assert settings.mqtt.cert_file is None
    publisher = _publisher(settings, db)
    with structlog.testing.capture_logs() as logs:
        async with _running(publisher):
            await eventually(
                lambda: sum(e["event"] == "mqtt_connect_failed" for e in logs) >= 2,
                "two refused attempts",
            )
            assert not publisher.connected
