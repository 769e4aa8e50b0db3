"""Fixtures: fake beacon nodes on 127.0.0.1 and a client with fast backoffs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from tests.integration.beacon.fakenode import FakeNode

FAST_RETRY = Backoff(base=0.01, maximum=0.02)
OFFLINE = Backoff(base=0.3, maximum=0.3, jitter=0)


@pytest.fixture
async def nodes() -> AsyncIterator[Callable[[], Awaitable[FakeNode]]]:
    started: list[FakeNode] = []

    async def make() -> FakeNode:
        node = await FakeNode().start()
        started.append(node)
        return node

    yield make
    for node in started:
        await node.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., BeaconClient]]:
    clients: list[BeaconClient] = []

    def make(*urls: str, **kwargs: Any) -> BeaconClient:
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("connect_timeout", 1.0)
        kwargs.setdefault("retry_backoff", FAST_RETRY)
        kwargs.setdefault("offline_backoff", OFFLINE)
        client = BeaconClient(list(urls), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
