"""A mosquitto per test (its own ports, its own config in tmp) and a database with an outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stakepool.store.database import Database
from tests.integration.mqtt.broker import MOSQUITTO, Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run scripts/test (it installs the Debian package)")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    server = Mosquitto(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "ledger.sqlite")
    yield database
    database.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """The same broker plus a mutual-TLS listener (``tls_port``, files in ``tls``)."""
    workdir = tmp_path / "tls-broker"
    workdir.mkdir()
    server = Mosquitto(workdir, tls=True)
    server.start()
    yield server
    server.stop()
