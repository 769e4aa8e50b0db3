"""structlog set-up: JSON lines to stdout for journald and containers, a pretty console on a TTY.

Every line passes the ``Redactor`` twice: its fields before rendering (a value under a sensitive
key is masked whole) and the rendered line last (the last line of defence: whatever a ``repr`` or
an exception's text put in it). The libraries' stdlib log records go through the same redactor.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Literal, TextIO

import structlog

from stakepool.chain.redact import Redactor

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(levelname)s:%(name)s:%(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.text(super().format(record))


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> Redactor:
    """Configure structlog and stdlib logging; the ``Redactor`` every line passes (``secrets``:
    the configuration's secret values, ``Settings.secrets()``)."""
    out = stream or sys.stdout
    redactor = Redactor(secrets)
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    # The console renderer formats exceptions itself; JSON needs them rendered to a string first.
    tail: list[structlog.types.Processor] = (
        [structlog.dev.ConsoleRenderer(colors=out.isatty())]
        if console
        else [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    )
    numeric = _LEVELS.get(level, logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            redactor.fields,
            *tail,
            redactor.rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiohttp, aiomqtt) log through stdlib logging: keep their warnings, same stream.
    handler = logging.StreamHandler(out)
    handler.setFormatter(_RedactingFormatter(redactor))
    logging.basicConfig(handlers=[handler], level=max(numeric, logging.WARNING), force=True)
    return redactor
