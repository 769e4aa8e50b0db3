from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.execution.fakerpc import FakeRpc, load


@pytest.fixture
async def rpc() -> AsyncIterator[FakeRpc]:
    server = FakeRpc()
    server.add(load("block_mev"), load("receipts_mev"))
    server.add(load("block_local"), load("receipts_local"))
    await server.start()
    yield server
    await server.stop()
