"""The epoch worker's wait for the next closed epoch, which also resumes a paused ledger.

While settlement is paused by a full disk (``ledger/pause``), the money path is tried again
between epoch closes, at most once a slot and only once the database's filesystem has room
(``MoneyPath.room_to_resume``): the ledger resumes by itself minutes before the next close would
have tried. Every other step waits for its epoch as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from stakepool.chain.types import Epoch
from stakepool.service.epoch_steps import EpochSteps
from stakepool.service.money import MoneyPath


async def next_closed(
    closed: asyncio.Queue[Epoch],
    money: MoneyPath,
    steps: EpochSteps,
    slot_seconds: float,
    notify: Callable[[], None],
) -> Epoch:
    """The next closed epoch off ``closed``; meanwhile the paused money path is retried and
    ``notify`` told (its settled epochs' events are committed) after each try."""
    while money.pause.paused and money.last_closed is not None:
        try:
            return await asyncio.wait_for(closed.get(), timeout=slot_seconds)
        except TimeoutError:
            pass
        if not await money.room_to_resume():
            continue
        epoch, finalized = money.last_closed

        async def retry(epoch: int = epoch, finalized: int = finalized) -> list[int]:
            return await money.on_epoch_closed(epoch, finalized)

        await steps.run("money", epoch, retry, attempts=1)
        notify()
    return await closed.get()
