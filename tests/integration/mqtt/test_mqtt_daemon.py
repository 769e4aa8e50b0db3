"""`stakepool run` with MQTT configured, against the simulator and a real mosquitto: what is left
in the outbox goes out, and the retained status is `offline` however the process ends."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stakepool.store import outbox
from stakepool.store.database import Database
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


def _outbox(database: Path) -> list[str]:
    """The event ids still waiting in the outbox, oldest first (the daemon has exited)."""
    db = Database.open(database)
    try:
        return [row.event_id for row in db.read_sync(lambda c: outbox.pending(c, 1_000_000))]
    finally:
        db.close()


def _depth_now(database: Path) -> int:
    """The outbox depth while the daemon runs (a read-only look beside its connection)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def _told(daemon: Daemon) -> set[str]:
    """The ids of the events the daemon logged (each was committed to the outbox first)."""
    return {e["event_id"] for e in list(daemon.logs) if "event_id" in e}


def _everything_before_offline(sub: Subscriber) -> None:
    """Every event message arrived before the final ``offline`` status, and that status is the
    last message of the run: what the outbox held went out before the daemon said goodbye."""
    assert sub.messages, "nothing arrived"
    last = sub.messages[-1]
    assert last.topic.endswith("/status"), last
    assert last.payload == "offline"
    assert all(m.payload != "offline" for m in sub.messages[:-1] if m.topic.endswith("/status"))


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
            await eventually(lambda: sub.event_ids()[:25] == seeded, "the seeded events, in order")
            assert await retained_status(broker.port, f"{ROOT}/status") == "online"
            # Stopped right after the daemon told one of its own events: the moment an event is
            # committed but maybe not yet delivered.
            await eventually(lambda: bool(_told(daemon)), "an event of the daemon's own")
        finally:
            code = await asyncio.to_thread(daemon.stop, signal.SIGTERM)
        assert code == 0, daemon.stderr
        await eventually(
            lambda: [m.payload for m in sub.on("/status")][-1:] == ["offline"], "offline"
        )
        _everything_before_offline(sub)
    assert await retained_status(broker.port, f"{ROOT}/status") == "offline"
    connected = daemon.events("mqtt_connected")
    assert connected
    assert connected[0]["broker"] == broker.url
    # Whatever the daemon committed up to the stop (its last epoch's events included) was
    # delivered and acknowledged before it exited: nothing waits for the next start.
    assert _outbox(database) == []
    assert [e["events_left"] for e in daemon.events("mqtt_outbox_delivered_at_stop")] == [0]
    assert set(seeded) | _told(daemon) <= set(sub.event_ids())


async def test_a_backlog_at_sigterm_is_delivered_before_offline(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    """Stopped while thousands of events still wait: the stop drains them all (the grace period
    is far longer than the drain), then says ``offline``."""
    database = tmp_path / "ledger.sqlite"
    seeded = _seed(database, 3000)
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url=sim_url,
        database=database,
        mqtt={"url": broker.url, "stop_grace_seconds": 60},
        pool_id=POOL,
    )
    async with Subscriber(broker.port, f"{ROOT}/#") as sub:
        daemon = Daemon(config, clean_env())
        try:
            # Stopped as soon as it is online: the backlog is still going out.
            await eventually(lambda: bool(sub.on("/status")), "online")
        finally:
            # In a thread: the subscriber must keep reading while the daemon drains (the broker
            # queues only so many messages for a subscriber that does not read).
            code = await asyncio.to_thread(daemon.stop, signal.SIGTERM)
        assert code == 0, daemon.stderr
        await eventually(
            lambda: [m.payload for m in sub.on("/status")][-1:] == ["offline"], "offline"
        )
        _everything_before_offline(sub)
    assert set(seeded) <= set(sub.event_ids())
    assert _outbox(database) == []


async def test_a_broker_down_at_stop_keeps_the_events_and_does_not_wait(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    """The broker is gone when SIGTERM comes: the stop does not spend its (long) grace period
    on it, the undelivered events stay in the outbox, and the next start delivers them."""
    database = tmp_path / "ledger.sqlite"
    grace = 30.0
    config = write_config(
        tmp_path / "stakepool.toml",
        sim_url=sim_url,
        database=database,
        mqtt={"url": broker.url, "stop_grace_seconds": grace},
        pool_id=POOL,
    )
    daemon = Daemon(config, clean_env())
    try:
        await eventually(lambda: bool(daemon.events("mqtt_connected")), "connected")
        broker.stop()
        await eventually(lambda: bool(daemon.events("mqtt_disconnected")), "the broker is gone")
        await eventually(lambda: _depth_now(database) > 0, "events wait for the broker")
    finally:
        began = time.monotonic()
        code = daemon.stop(signal.SIGTERM)
        took = time.monotonic() - began
    assert code == 0, daemon.stderr
    assert took < grace / 2, f"the stop waited {took:.1f} s on a broker that is not there"
    kept = _outbox(database)
    assert kept
    left = daemon.events("mqtt_outbox_left_at_stop")
    assert [(e["events"], e["reason"]) for e in left] == [(len(kept), "broker not connected")]

    broker.start()
    async with Subscriber(broker.port, f"{ROOT}/#") as sub:
        again = Daemon(config, clean_env())
        try:
            await eventually(lambda: set(kept) <= set(sub.event_ids()), "the kept events")
        finally:
            code = again.stop(signal.SIGTERM)
        assert code == 0, again.stderr
    assert sub.event_ids()[: len(kept)] == kept  # oldest first, as they were produced
    assert _outbox(database) == []


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
