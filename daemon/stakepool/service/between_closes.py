"""The epoch worker's wait for the next closed epoch, and the work that cannot wait for it.

Most work waits for its epoch's close. Two things do not, because the next close may come late
(an epoch is 6.4 minutes on mainnet) or never (a halted chain, a node that stopped following):

* a ledger paused by a full disk (``ledger/pause``): the money path is tried again at most once a
  slot and only once the database's filesystem has room (``MoneyPath.room_to_resume``), so the
  ledger resumes by itself minutes before the next close would have tried;
* proposals the monitor owes (a close whose judgement failed, ``MonitorService.owed``): tried
  again 1, 2, 4, 8… slots after the close (a node that stays down is not asked every slot, nor
  is the log flooded), so a block of ours is told within slots of the node answering again.

Every other step waits for its epoch as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from stakepool.chain.types import Epoch
from stakepool.monitor.service import MonitorService
from stakepool.service.epoch_steps import EpochSteps
from stakepool.service.money import MoneyPath


class BetweenCloses:
    """``next_closed`` hands the epoch worker its next closed epoch and, while it waits, does the
    work owed; ``notify`` is told (events committed) after each try."""

    def __init__(
        self,
        money: MoneyPath,
        monitor: MonitorService | None,
        steps: EpochSteps,
        *,
        slot_seconds: float,
        notify: Callable[[], None],
        head_slot: Callable[[], int | None],
    ) -> None:
        self.money = money
        self.monitor = monitor
        self.steps = steps
        self.slot_seconds = slot_seconds
        self.notify = notify
        self.head_slot = head_slot

    def _money_owed(self) -> bool:
        return self.money.pause.paused and self.money.last_closed is not None

    def _verdicts_owed(self) -> bool:
        return self.monitor is not None and self.monitor.owed

    async def next_closed(self, closed: asyncio.Queue[Epoch]) -> Epoch:
        slots = 0
        next_try = 1  # slots after the close at which owed verdicts are tried next (doubling)
        while self._money_owed() or self._verdicts_owed():
            try:
                return await asyncio.wait_for(closed.get(), timeout=self.slot_seconds)
            except TimeoutError:
                pass
            slots += 1
            if self._money_owed():
                await self._resume_money()
            if self._verdicts_owed() and slots >= next_try:
                next_try *= 2
                await self._judge_owed()
        return await closed.get()

    async def _resume_money(self) -> None:
        money = self.money
        if money.last_closed is None or not await money.room_to_resume():
            return
        epoch, finalized = money.last_closed

        async def retry() -> list[int]:
            return await money.on_epoch_closed(epoch, finalized)

        await self.steps.run("money", epoch, retry, attempts=1)
        self.notify()

    async def _judge_owed(self) -> None:
        monitor, head = self.monitor, self.head_slot()
        if monitor is None or head is None:
            return

        async def judge() -> int:
            return await monitor.judge_owed(head)

        await self.steps.run("monitor_owed", head // monitor.ctx.spe, judge, attempts=1)
        self.notify()
