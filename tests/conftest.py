"""Suite-wide rules: every test is marked by its folder, and unit tests cannot touch the network."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = Path(str(item.fspath)).relative_to(_TESTS).parts[0]
        if kind in ("unit", "integration", "e2e", "reliability"):
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(autouse=True)
def _block_network_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("unit") is None:
        yield
        return

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("unit tests must not use the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield
