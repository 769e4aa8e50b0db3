"""The reliability suite's fixtures and its one summary line.

``broker`` is the MQTT tests' mosquitto fixture (one real broker per test, on free loopback
ports), shared rather than copied. ``rig`` builds a scenario's stage (``rig.py``); a test marked
``xfail`` is a known bug of issue 12 whose fix is not merged yet, and its lost events and crashes
are kept apart in the tally. At the end the suite prints ``reliability: …`` and fails the session
when a scenario that must pass lost an event or crashed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.conftest import broker
from tests.reliability.rig import SOAK, Rig
from tests.reliability.tally import TALLY

__all__ = ["broker"]

MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def rig(
    tmp_path: Path, broker: Mosquitto, request: pytest.FixtureRequest
) -> AsyncIterator[MakeRig]:
    """``await rig(seed=…)``: a started stage (sim, gate, subscriber); torn down after."""
    rigs: list[Rig] = []
    known = request.node.get_closest_marker("xfail") is not None

    async def make(**kwargs: Any) -> Rig:
        stage = Rig(tmp_path, broker, known_failure=known, **kwargs)
        rigs.append(stage)
        return await stage.__aenter__()

    yield make
    for stage in rigs:
        await stage.__aexit__(None, None, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not SOAK:
        return
    for item in items:  # a soak outlasts the suite's 300 s per test; it is still bounded
        if item.nodeid.startswith("tests/reliability/"):
            item.add_marker(pytest.mark.timeout(3600))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.ledger_rows_compared or TALLY.api_requests_fuzzed or TALLY.kills:
        terminalreporter.write_line(TALLY.line())


def pytest_sessionfinish(session: pytest.Session) -> None:
    if TALLY.events_lost or TALLY.crashes:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
