"""`stakepool run` with MQTT configured, against the simulator and a real mosquitto: what is left
in the outbox goes out, and the retained status is `offline` however the process ends."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from stakepool.ledger.store import outbox
from stakepool.ledger.store.database import Database
from tests.integration.mqtt.broker import PASSWORD, USERNAME, Mosquitto
from tests.integration.mqtt.kit import Subscriber, eventually, retained_status, sample_events
from tests.integration.mqtt.processes import Daemon, write_config
from tests.integration.processes import clean_env, simulator

POOL = "pool-d"
ROOT = f"stakepool/{POOL}"


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    with simulator(tmp_path, slot_seconds="0.1") as url:
        yield url


def _seed(database: Path, count: int) -> list[str]:
    """Events a previous run committed but never delivered."""
    events = sample_events(POOL, count)
    db = Database.open(database)
    try:
        db.write_sync(lambda conn: outbox.enqueue(conn, events, max_rows=100_000))
    finally:
        db.close()
    return [e.event_id for e in events]


async def test_the_daemon_delivers_the_outbox_and_says_offline_on_sigterm(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "ledger.sqlite"
    seeded = _seed(database, 25)
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url=sim_url,
        database=database,
        mqtt={"url": broker.url},
        pool_id=POOL,
    )
    async with Subscriber(broker.port, f"{ROOT}/#") as sub:
        daemon = Daemon(config, clean_env())
        try:
            await eventually(lambda: sub.event_ids() == seeded, "the seeded events, in order")
            await eventually(lambda: bool(daemon.events("epoch_closed")), "the daemon follows")
            assert await retained_status(broker.port, f"{ROOT}/status") == "online"
        finally:
            code = daemon.stop(signal.SIGTERM)
        assert code == 0, daemon.stderr
        await eventually(
            lambda: [m.payload for m in sub.on("/status")][-1:] == ["offline"], "offline"
        )
    assert await retained_status(broker.port, f"{ROOT}/status") == "offline"
    connected = daemon.events("mqtt_connected")
    assert connected
    assert connected[0]["broker"] == broker.url
    db = Database.open(database)
    try:
        assert db.read_sync(outbox.depth) == 0  # acknowledged rows are gone
    finally:
        db.close()


async def test_sigkill_leaves_the_last_will_offline(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url=sim_url,
        database=tmp_path / "ledger.sqlite",
        mqtt={"url": broker.url, "keepalive_seconds": 5},
        pool_id=POOL,
    )
    daemon = Daemon(config, clean_env())
    async with Subscriber(broker.port, f"{ROOT}/status") as sub:
        try:
            await eventually(lambda: sub.on("/status")[-1:] != [], "a status")
            assert [m.payload for m in sub.on("/status")] == ["online"]
        finally:
            code = daemon.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
        # Nothing of ours ran after the kill: this `offline` is the broker's will.
        await eventually(lambda: len(sub.on("/status")) == 2, "the last will")
    assert [m.payload for m in sub.on("/status")] == ["online", "offline"]
    assert await retained_status(broker.port, f"{ROOT}/status") == "offline"
    assert not daemon.events("stopped")  # it really died: no clean shutdown ran


async def test_a_refused_login_is_logged_and_the_daemon_keeps_running(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text("not the password\n")
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url=sim_url,
        database=tmp_path / "ledger.sqlite",
        mqtt={"url": broker.auth_url, "username": USERNAME},
        pool_id=POOL,
    )
    daemon = Daemon(config, clean_env(CREDENTIALS_DIRECTORY=str(credentials)))
    try:
        await eventually(lambda: len(daemon.events("mqtt_connect_refused")) >= 2, "two refusals")
        await eventually(lambda: bool(daemon.events("epoch_closed")), "the daemon still follows")
        assert daemon.proc.poll() is None
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.stderr
    refused = daemon.events("mqtt_connect_refused")[0]
    assert refused["level"] == "error"
    assert refused["reason"] in ("Not authorized", "Bad user name or password")
    assert "mqtt_password" in refused["hint"]
    assert "not the password" not in "".join(daemon.raw)
    assert PASSWORD not in "".join(daemon.raw)


def test_unreadable_tls_files_stop_the_start_with_one_clear_line(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url="http://127.0.0.1:9",  # never reached: the MQTT set-up fails first
        database=tmp_path / "ledger.sqlite",
        mqtt={"url": "mqtts://broker.invalid", "ca_file": str(tmp_path / "missing-ca.pem")},
        pool_id=POOL,
    )
    daemon = Daemon(config, clean_env())
    daemon.proc.wait(timeout=60)  # it exits by itself
    code = daemon.stop()
    assert code == 1
    failed = daemon.events("mqtt_setup_failed")
    assert len(failed) == 1
    assert failed[0]["level"] == "error"
    assert "missing-ca.pem" in failed[0]["error"]
    assert "[mqtt] TLS files" in failed[0]["error"]
