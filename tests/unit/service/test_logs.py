"""Logs are JSON lines off a terminal (journald, containers) and readable text on request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from stakepool.service.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    handlers = logging.root.handlers[:]
    yield
    structlog.reset_defaults()
    logging.root.handlers[:] = handlers


def test_json_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging("info", "auto", out)
    structlog.get_logger("t").info("epoch_closed", epoch=7, pool_balance_gwei=32_000_000_001)
    structlog.get_logger("t").debug("hidden")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "epoch_closed"
    assert event["pool_balance_gwei"] == 32_000_000_001  # an int, as logged
    assert event["level"] == "info"
    assert "timestamp" in event


def test_console_format_and_exceptions() -> None:
    out = io.StringIO()
    configure_logging("debug", "console", out)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("t").exception("failed", node="http://127.0.0.1:5052")
    text = out.getvalue()
    assert "failed" in text
    assert "node=http://127.0.0.1:5052" in text
    assert "ValueError: boom" in text
    assert not text.lstrip().startswith("{")
