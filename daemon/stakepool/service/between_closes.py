"""The epoch worker's wait for the next closed epoch, and the work that cannot wait for it.

Most work waits for its epoch's close. Three things do not, because the next close may come late
(an epoch is 6.4 minutes on mainnet) or never (a halted chain, a node that stopped following):

* a ledger paused by a full disk (``ledger/pause``): the money path is tried again at most once a
  slot and only once the database's filesystem has room (``MoneyPath.room_to_resume``), so the
  ledger resumes by itself minutes before the next close would have tried;
* a close that left the ledger behind (a window no read of that close could get, its retries
  spent within a slot), or settled rows whose explanation no read could get: the money path is
  tried again 1, 2, 4… slots after the close, under the same limits as owed verdicts below, so a
  window is settled and explained while its node still serves it and the last close before a
  halt is not the ledger's last word;
* proposals the monitor owes (a close whose judgement failed, ``MonitorService.owed``): tried
  again 1, 2, 4, 8… slots after the close (a node that stays down is not asked every slot, nor
  is the log flooded), so a block of ours is told within slots of the node answering again.
  Never at the cost of a close: one request per owed epoch, no retry within, not in the last
  two slots before an epoch boundary, and not while a close is waiting (a close held back can
  cost more than the retry wins: nodes serve an epoch's duties only while it is recent).

Every other step waits for its epoch as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from stakepool.chain.clock import ChainClock
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
        clock: ChainClock,
        notify: Callable[[], None],
        head_slot: Callable[[], int | None],
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.money = money
        self.monitor = monitor
        self.steps = steps
        self.clock = clock
        self.slot_seconds = clock.slot_duration_ms / 1000
        self.notify = notify
        self.head_slot = head_slot
        self.now_ms = now_ms

    def _money_paused(self) -> bool:
        return self.money.pause.paused and self.money.last_closed is not None

    def _verdicts_owed(self) -> bool:
        return self.monitor is not None and self.monitor.owed

    async def next_closed(self, closed: asyncio.Queue[Epoch]) -> Epoch:
        slots = 0
        next_try = 1  # slots after the close at which owed verdicts are tried next (doubling)
        next_money = 1  # the same for a ledger left behind
        while self._money_paused() or self.money.behind or self._verdicts_owed():
            try:
                return await asyncio.wait_for(closed.get(), timeout=self.slot_seconds)
            except TimeoutError:
                pass
            slots += 1
            if self._money_paused():
                await self._resume_money()
            elif self.money.behind and slots >= next_money and self._room_before_close(closed):
                next_money *= 2
                await self._catch_up_money()
            if self._verdicts_owed() and slots >= next_try and self._room_before_close(closed):
                next_try *= 2
                await self._judge_owed(closed)
        return await closed.get()

    def _room_before_close(self, closed: asyncio.Queue[Epoch]) -> bool:
        """No close waiting, and none due within two slots by the wall clock."""
        now = self.now_ms()
        return closed.empty() and self.clock.next_epoch_start_ms(now) - now > 2 * (
            self.clock.slot_duration_ms
        )

    async def _resume_money(self) -> None:
        money = self.money
        if money.last_closed is None or not await money.room_to_resume():
            return
        epoch, finalized = money.last_closed

        async def retry() -> list[int]:
            return await money.on_epoch_closed(epoch, finalized)

        await self.steps.run("money", epoch, retry, attempts=1)
        self.notify()

    async def _catch_up_money(self) -> None:
        money = self.money
        if money.last_closed is None:
            return
        await self.steps.run("money", money.last_closed[0], money.retry_between_closes, attempts=1)
        self.notify()

    async def _judge_owed(self, closed: asyncio.Queue[Epoch]) -> None:
        monitor, head = self.monitor, self.head_slot()
        if monitor is None or head is None:
            return

        async def judge() -> int:
            return await monitor.judge_owed(head, give_way=lambda: not closed.empty())

        await self.steps.run("monitor_owed", head // monitor.ctx.spe, judge, attempts=1)
        self.notify()
