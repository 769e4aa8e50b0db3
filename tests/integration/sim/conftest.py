"""A small simulated chain with a bit of every scenario, served on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stakepool.sim.server import SimServer
from tests.integration.sim.scenarios import busy_chain


@pytest.fixture
async def sim_server() -> AsyncIterator[SimServer]:
    server = SimServer(busy_chain(), keepalive_seconds=0.2)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
