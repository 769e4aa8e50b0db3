"""Retention of the per-validator detail: old final epochs rolled up exactly, then deleted.

``[ledger] validator_detail_epochs`` (default 3150: two weeks of mainnet epochs) of per-epoch
detail are kept behind the newest settled epoch. A statement period (``[ledger]
statement_period_epochs``; 225 = one mainnet UTC day) whose epochs are all final and all older
than that is rolled up into one row per validator (``ledger/rollup.py``: exact integer sums),
then its detail is deleted. ``[ledger] validator_daily_days`` (default: keep) bounds the roll-ups.
The pool's and the delegators' ledger (epochs, credits, journal, payouts, commitments) is never
touched.

Order, so that nothing is ever lost: (1) the detail is read in a few epochs per call and decoded
off the database's thread; (2) the sums are written in chunks; (3) the stored sums are read back
in chunks and compared with what was summed, and one short transaction checks their count and
total by SQL and marks the period checked; only then (4) the detail is deleted, a few epochs per
transaction (the database's trigger refuses to delete final detail of an unchecked period); on
PostgreSQL a detail partition (migration 0011) whose every row is then rolled up and checked is
dropped whole first, which returns its space to the filesystem at once. A
difference at (3) deletes nothing and says why, critically, once. A kill anywhere redoes the
period from (1): the detail is final, so the same sums come out. Every call is short: settlement
and the API, which share the database's one thread, wait milliseconds, not the whole roll-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import structlog

from stakepool.ledger.rollup import DaySum, PeriodRollup, period_bounds
from stakepool.ledger.store import rollup_sql
from stakepool.ledger.store.ledger_sql import last_epochs
from stakepool.store import disk
from stakepool.store.database import Database
from stakepool.store.detail_pack import DetailEpoch

log = structlog.get_logger("stakepool.ledger")

T = TypeVar("T")

READ_EPOCHS = 8
"""Detail epochs read per call (each blob ~280 KB at 100,000 validators)."""
WRITE_ROWS = 5000
"""Roll-up rows written or compared per call."""
DELETE_EPOCHS = 16
"""Detail epochs deleted per transaction."""
RECLAIM_CALLS = 64
"""Incremental-vacuum calls after a prune at most (each returns up to 8 MiB)."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    period_epochs: int
    detail_epochs: int
    daily_days: int | None = None
    epochs_per_day: int = 225


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _add(rollup: PeriodRollup, blobs: Sequence[tuple[int, bytes, bytes | None]]) -> None:
    for epoch, packed, explanation in blobs:
        rollup.add_epoch(epoch, DetailEpoch(packed, explanation).rows())


class Retention:
    def __init__(self, db: Database, policy: RetentionPolicy) -> None:
        self.db = db
        self.policy = policy
        self.refused: dict[int, str] = {}
        """Periods whose roll-up did not match their detail (nothing of them deleted)."""

    async def run(self, *, max_periods: int = 1_000_000) -> list[int]:
        """Roll up and prune every period that is due (bounded); the periods pruned."""
        done: list[int] = []
        for _ in range(max_periods):
            period = await self.step()
            if period is None:
                break
            done.append(period)
        await self.prune_rollups()
        if done and self.db.is_file:  # PostgreSQL: its autovacuum makes the room reusable
            for _ in range(RECLAIM_CALLS):
                if await self.db.write(disk.reclaim) == 0:
                    break
        return done

    async def due(self) -> int | None:
        """The oldest period with detail that is due for its roll-up, if any."""
        p = self.policy
        _first, settled, final = await self.db.read(last_epochs)
        oldest = await self.db.read(rollup_sql.oldest_detail_epoch)
        if oldest is None or settled is None or final is None:
            return None
        period = oldest // p.period_epochs
        last = period_bounds(period, p.period_epochs)[1]
        if last > final or last > settled - p.detail_epochs or period in self.refused:
            return None
        return period

    async def step(self) -> int | None:
        period = await self.due()
        if period is None:
            return None
        first, last = period_bounds(period, self.policy.period_epochs)
        epochs = await self.db.read(lambda c: rollup_sql.detail_epochs(c, first, last))
        if await self.db.read(lambda c: rollup_sql.checked(c, period)) is None:
            reason = await self._roll_up(period, first, last, epochs)
            if reason is not None:
                self.refused[period] = reason
                log.critical(
                    "validator_rollup_refused",
                    period=period,
                    first_epoch=first,
                    last_epoch=last,
                    reason=reason,
                    hint="no detail of this period was deleted; the ledger's money is untouched",
                )
                return None
        # PostgreSQL: a partition now wholly rolled up goes whole (its rows with it); the rest of
        # the period's rows, in a partition that still holds newer epochs, are deleted.
        dropped = await self.db.write(partial(rollup_sql.drop_partitions, through=last))
        if dropped:
            epochs = await self.db.read(lambda c: rollup_sql.detail_epochs(c, first, last))
        for chunk in _chunks(epochs, DELETE_EPOCHS):
            await self.db.write(partial(rollup_sql.delete_detail, epochs=chunk))
        log.info(
            "validator_detail_rolled_up",
            period=period,
            first_epoch=first,
            last_epoch=last,
            epochs=len(epochs),
            partitions_dropped=dropped,
        )
        return period

    async def _roll_up(self, period: int, first: int, last: int, epochs: list[int]) -> str | None:
        """Sum, write, check, mark; the reason when the stored sums are not the detail's."""
        if await self.db.read(lambda c: rollup_sql.non_final_between(c, first, last)):
            return "an epoch of the period is not final"
        rollup = PeriodRollup(period)
        for chunk in _chunks(epochs, READ_EPOCHS):
            blobs = await self.db.read(partial(rollup_sql.detail_blobs, epochs=chunk))
            await asyncio.to_thread(_add, rollup, blobs)
        if rollup.epochs != epochs:
            return f"epochs read {rollup.epochs[:3]}… differ from the detail's {epochs[:3]}…"
        sums = sorted(rollup.sums.values(), key=lambda d: d.validator_index)
        for part in _chunks(sums, WRITE_ROWS):
            await self.db.write(partial(rollup_sql.write_sums, period=period, sums=part))
        after = -1
        while True:
            stored: dict[int, DaySum] = await self.db.read(
                partial(rollup_sql.stored_sums, period=period, after_index=after, limit=WRITE_ROWS)
            )
            if not stored:
                break
            mine = {i: rollup.sums[i] for i in stored if i in rollup.sums}
            differs = PeriodRollup(period, mine).matches(stored)
            if differs is not None:
                return differs
            after = max(stored)
        total = rollup.reward_gwei
        mark = rollup_sql.CheckedPeriod(period, first, last, len(epochs), len(sums), total)

        return await self.db.write(partial(rollup_sql.check_and_mark, mark=mark, epochs=epochs))

    async def prune_rollups(self) -> int:
        """``[ledger] validator_daily_days``: roll-ups of periods older than that, deleted."""
        p = self.policy
        if p.daily_days is None:
            return 0
        settled = (await self.db.read(last_epochs))[1]
        if settled is None:
            return 0
        before = settled - p.detail_epochs - p.daily_days * p.epochs_per_day
        deleted = 0
        for _ in range(1_000_000):
            n = await self.db.write(lambda c: rollup_sql.prune_sums(c, before, WRITE_ROWS))
            deleted += n
            if n < WRITE_ROWS:
                break
        if deleted:
            log.info("validator_rollups_pruned", before_epoch=before, rows=deleted)
        return deleted
