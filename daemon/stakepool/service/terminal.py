"""The live console around a run: ``stakepool run`` and ``stakepool demo`` on a terminal.

``wants_live_view`` decides (stdout is a TTY and ``[log] format`` is ``auto``: an operator who
asked for JSON or console lines gets them); ``live_logging`` points the log at the terminal
*through* the view, so a warning prints above the screen instead of tearing it. The head's
per-slot lines, like every info line, are then only in the debug log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console

from stakepool.config import Settings
from stakepool.publish.live import LiveView
from stakepool.service.logs import configure_logging


def wants_live_view(settings: Settings, out: TextIO | None = None) -> bool:
    stream = out or sys.stdout
    return settings.log.format == "auto" and stream.isatty()


@contextmanager
def live_view(settings: Settings) -> Iterator[LiveView]:
    """The view on stdout, running; the log configured to print above it (warnings and worse,
    everything at ``[log] level = "debug"``)."""
    with LiveView(Console()) as view:
        # Inside the view: sys.stderr is now rich's proxy, which prints above the screen.
        configure_logging(
            "debug" if settings.log.level == "debug" else "warning",
            "console",
            sys.stderr,
            secrets=settings.secrets(),
        )
        yield view
