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


def test_no_secret_reaches_a_log_line() -> None:
    """Fields, an exception's text, a value's repr and a library's stdlib record: all masked."""
    out = io.StringIO()
    configure_logging("info", "json", out, secrets=["s3cretBeacon", "mqttPw42"])

    class Node:
        def __repr__(self) -> str:
            return "Node(http://user:s3cretBeacon@127.0.0.1:5052)"

    log = structlog.get_logger("t")
    log.info("started", nodes=["http://user:s3cretBeacon@127.0.0.1:5052"], node=Node())
    log.warning("mqtt_connect_refused", password="mqttPw42", username="u")
    try:
        raise ConnectionError("login mqttPw42 refused")
    except ConnectionError:
        log.exception("mqtt_publisher_failed")
    logging.getLogger("aiohttp.client").warning("GET http://user:s3cretBeacon@h/ failed")
    text = out.getvalue()
    assert "s3cretBeacon" not in text
    assert "mqttPw42" not in text
    lines = text.splitlines()
    started = json.loads(lines[0])
    assert started["nodes"] == ["http://***@127.0.0.1:5052"]  # the node is still named
    assert json.loads(lines[1])["password"] == "***"
    assert "ConnectionError: login *** refused" in json.loads(lines[2])["exception"]
    assert "http://***@h/" in lines[3]
