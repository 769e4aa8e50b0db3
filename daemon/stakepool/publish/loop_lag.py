"""Event-loop lag: how late a short sleep wakes up, measured continuously (Vero's monitor).

Everything in the daemon shares one loop; a blocking call (a slow parse, a synchronous write)
delays every task at once. A sleep of ``interval`` that returns after ``interval + lag`` measures
exactly that delay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL = 0.25
WARN_ABOVE_SECONDS = 1.0


async def monitor_loop_lag(
    observe: Callable[[float], None], *, interval: float = DEFAULT_INTERVAL
) -> None:
    """Runs until cancelled, calling ``observe(lag_seconds)`` once per ``interval``."""
    while True:
        started = time.monotonic()
        await asyncio.sleep(interval)
        lag = max(0.0, time.monotonic() - started - interval)
        observe(lag)
        if lag > WARN_ABOVE_SECONDS:
            log.warning("event_loop_blocked", lag_seconds=round(lag, 3))
