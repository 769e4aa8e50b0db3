"""Fixtures for client-against-simulator tests: counting sim servers and fast-failing clients.

Names are distinct from the ``sim/`` and ``beacon/`` folders' fixtures, which this file leaves
alone.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.sim.chain import SimChain
from tests.integration import pgkit
from tests.integration.simkit import FAST_RETRY, CountingSimServer

ServeSim = Callable[..., Awaitable[CountingSimServer]]
MakeSimClient = Callable[..., BeaconClient]


@pytest.fixture
async def serve_sim() -> AsyncIterator[ServeSim]:
    """``await serve_sim(chain, auto_advance=...)``: a started server on 127.0.0.1, stopped after."""
    servers: list[CountingSimServer] = []

    async def serve(chain: SimChain, **kwargs: Any) -> CountingSimServer:
        kwargs.setdefault("keepalive_seconds", 1.0)
        server = CountingSimServer(chain, host="127.0.0.1", **kwargs)
        servers.append(server)
        await server.start()
        return server

    yield serve
    for server in servers:
        await server.stop()


@pytest.fixture
async def sim_client() -> AsyncIterator[MakeSimClient]:
    """``sim_client(url, ...)``: a ``BeaconClient`` with short timeouts and backoffs, closed after."""
    clients: list[BeaconClient] = []

    def make(*urls: str, **kwargs: Any) -> BeaconClient:
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("connect_timeout", 0.5)
        kwargs.setdefault("retries", 1)
        kwargs.setdefault("retry_backoff", FAST_RETRY)
        kwargs.setdefault("offline_backoff", Backoff(base=0.5, maximum=0.5, jitter=0))
        client = BeaconClient(list(urls), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture(autouse=True)
def _state_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test's daemons keep their database in a directory of their own (the default
    ``[ledger] database`` is ``$STATE_DIRECTORY/ledger.sqlite``): no state leaks between tests,
    and none lands in the working tree."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path_factory.mktemp("state")))


# --- the store on both engines ------------------------------------------------------------------

ENGINES = ("sqlite", "postgresql")
NewTarget = Callable[[], str]


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """The admin URL of the PostgreSQL the tests use (``pgkit.admin_url``)."""
    with pgkit.admin_url() as url:
        yield url


@pytest.fixture(params=ENGINES)
def new_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewTarget]:
    """``new_target()``: a fresh database of this test's engine each call — a SQLite file in the
    test's directory, or a new PostgreSQL database (dropped after the test)."""
    engine = str(request.param)
    with contextlib.ExitStack() as stack:
        count = itertools.count()
        ring: pgkit.DatabaseRing | None = None

        def make() -> str:
            nonlocal ring
            if engine == "sqlite":
                return str(tmp_path / f"ledger-{next(count)}.sqlite")
            if ring is None:
                ring = pgkit.DatabaseRing(request.getfixturevalue("postgres_admin"), stack)
            return ring.take()

        yield make


@pytest.fixture
def db_target(new_target: NewTarget) -> str:
    """A fresh database of the test's engine (``sqlite`` and ``postgresql`` in turn)."""
    return new_target()
