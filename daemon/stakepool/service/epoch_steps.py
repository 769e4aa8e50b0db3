"""One closed epoch's steps, each contained to its epoch: retried a few times, then given up.

The epoch worker runs the same steps for every closed epoch: the epoch report, the validator
statuses, the monitor, the money path. A transient failure of one of them (a node that answered
one malformed body, a 503, a timeout) is retried within the epoch with a short backoff tied to the
slot; a failure that outlasts the retries is logged once for that epoch and step, and the worker
goes on with the other steps. No step's failure ever skips another step's work: the monitor still
judges the epoch's duties and the ledger still settles when the epoch report could not be made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from stakepool.beacon.backoff import Backoff

T = TypeVar("T")

log = structlog.get_logger("stakepool")

ATTEMPTS = 3
"""Tries per step and epoch: one transient answer is absorbed, a node that stays wrong is not
retried for the whole epoch (the next epoch's close comes soon and reads again)."""


def slot_backoff(slot_seconds: float) -> Backoff:
    """Delays of an eighth, a quarter, half a slot (jittered): all retries end well within an
    epoch, so the next close is never held back by this one."""
    return Backoff(base=slot_seconds / 8, factor=2.0, maximum=slot_seconds / 2, jitter=0.5)


class EpochSteps:
    """Runs one step of one epoch with bounded retries; ``errors`` are the transient ones."""

    def __init__(
        self,
        backoff: Backoff,
        errors: tuple[type[Exception], ...],
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.backoff = backoff
        self.errors = errors
        self.attempts = max(1, attempts)
        self.sleep = sleep

    async def run(
        self,
        step: str,
        epoch: int,
        call: Callable[[], Awaitable[T]],
        *,
        attempts: int | None = None,
    ) -> T | None:
        """``call()``'s result, or ``None`` once every attempt failed (logged as an error)."""
        tries = self.attempts if attempts is None else max(1, attempts)
        for attempt in range(tries):
            try:
                return await call()
            except self.errors as exc:
                if attempt + 1 >= tries:
                    log.error(
                        # The report keeps the name operators already search for.
                        "epoch_report_failed" if step == "epoch_report" else "epoch_step_failed",
                        step=step,
                        epoch=epoch,
                        attempts=tries,
                        error=str(exc),
                        hint="this step is skipped for this epoch only; the others ran",
                    )
                    return None
                delay = self.backoff.delay(attempt)
                log.info(
                    "epoch_step_retry",
                    step=step,
                    epoch=epoch,
                    attempt=attempt + 1,
                    delay_seconds=round(delay, 3),
                    error=str(exc),
                )
                await self.sleep(delay)
        return None  # unreachable: the loop returns on its last attempt
