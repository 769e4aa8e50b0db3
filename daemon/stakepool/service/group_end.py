"""How the supervisor's task group ends: a stop, the requested epochs shown, or a fatal error.

A task group ends only by one of its tasks raising; the two ordinary endings are exceptions of
their own so the supervisor can tell them from a failure and raise only the failure, as itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator


class Stopped(Exception):
    """Raised inside the task group to end it: the stop event was set."""


class Done(Exception):
    """Raised inside the task group to end it: the requested number of epochs was shown."""


async def raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise Stopped


def first_fatal(errors: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first error that is neither a stop nor done, nested groups walked (None: none)."""
    return next((e for e in _leaves(errors) if not isinstance(e, Stopped | Done)), None)


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
