"""The pool's totals (the dust above all: Σ distributed − Σ each delegator's floored accrual) kept
between epochs equal the full recount over every delegator after every step of a long, random
history: settles with gains and losses, finality, reorgs, file changes, API changes, schedules
with future ends; and an epoch settled does not read every schedule again. On both engines."""

from __future__ import annotations

import asyncio
import random

import pytest

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.queries import PoolTotals
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_read
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration.api.conftest import POLICY, POOL_ID

GWEI = 10**9


def _recounted(db: Database) -> PoolTotals:
    def read(conn: Connection) -> PoolTotals:
        return ledger_read.pool_totals(conn, POOL_ID, ledger_read.credited_gwei(conn))

    return db.read_sync(read)


def _set(rng: random.Random, next_epoch: int, source: str) -> DelegationSet:
    entries = []
    for i in range(rng.randint(1, 25)):
        start = rng.randint(0, next_epoch + 4)
        end = rng.choice([None, None, start + rng.randint(1, 6)])
        # Odd amounts: the floors differ from delegator to delegator.
        entries.append(
            Delegation(f"d{rng.randint(0, 30):02d}", rng.randint(1, 10**6) * 7 + i, start, end)
        )
    return DelegationSet(tuple(entries), source)


def _epoch(rng: random.Random, epoch: int, salt: int) -> EpochSettlementInput:
    reward = rng.choice([rng.randint(1, 10**7), rng.randint(-(10**5), 10**5), 0])
    rows = (ValidatorEpochRow(10, reward, None, None, True),)
    return EpochSettlementInput(epoch, reward, None, rows, input_digest=f"{epoch}-{salt}")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_kept_pool_totals_are_the_full_recount_after_every_step(
    db_target: str, seed: int
) -> None:
    rng = random.Random(seed)
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    settled = 0  # the next epoch to settle
    final = -1
    salt = 0
    steps = []
    for _ in range(70):
        step = rng.choice(["settle"] * 5 + ["file", "api", "finalize", "reorg"])
        if step == "settle" or settled == 0:
            for _ in range(rng.choice([1, 1, 1, 3])):  # now and then a span (a catch-up)
                await store.settle(_epoch(rng, settled, salt))
                settled += 1
        elif step == "file":
            await store.apply_delegations(_set(rng, settled, "delegations.csv"), spare_source="api")
        elif step == "api":
            await store.apply_delegations(_set(rng, settled, "api"), replace_all=False)
        elif step == "finalize" and final < settled - 1:
            final = rng.randint(final + 1, settled - 1)
            await store.finalize(final + 1)
        elif step == "reorg" and final < settled - 1:
            settled = rng.randint(final + 1, settled - 1)
            salt += 1
            await store.revert_from(settled, reason="reorg")
        steps.append(step)
        # Not asked after every step: an epoch or a change may come between two answers.
        if rng.random() < 0.7:
            assert await store.pool_totals() == _recounted(db), steps
    assert await store.pool_totals() == _recounted(db), steps
    assert (await store.pool_totals()).dust_gwei.total > 0  # the floors were exercised
    db.close()


async def test_an_epoch_settled_does_not_read_every_schedule_again(db_target: str) -> None:
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    rng = random.Random(7)
    entries = tuple(Delegation(f"d{i:03d}", rng.randint(1, 10**9), 0) for i in range(300))
    await store.apply_delegations(DelegationSet(entries, "delegations.csv"))
    await store.settle(_epoch(rng, 0, 0))
    assert await store.pool_totals() == _recounted(db)
    for epoch in range(1, 6):
        await store.settle(_epoch(rng, epoch, 0))
        await store.finalize(epoch)
        assert await store.pool_totals() == _recounted(db)
    await store.apply_delegations(
        DelegationSet((Delegation("d001", 5, 0), Delegation("new", 9, 0)), "api"),
        replace_all=False,
    )
    await store.settle(_epoch(rng, 6, 0))
    assert await store.pool_totals() == _recounted(db)
    assert store.credited_passes() == 1
    db.close()


async def test_a_reorg_settled_past_between_two_answers_is_recounted(db_target: str) -> None:
    """The epochs a reorg reversed are settled again, further than before, before ``/pool`` is
    asked again: what was kept from the reversed epochs (each entry's base, the totals per end
    epoch) must not be used."""
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    rng = random.Random(11)
    entries = tuple(Delegation(f"d{i:02d}", rng.randint(1, 10**9), 0) for i in range(40))
    await store.apply_delegations(DelegationSet(entries, "delegations.csv"))
    for epoch in range(5):
        await store.settle(_epoch(rng, epoch, 0))
    # Changes that take effect at epoch 5: their entries read the accumulator after epoch 4.
    later = tuple(Delegation(f"d{i:02d}", rng.randint(1, 10**9), 0) for i in range(0, 40, 3))
    await store.apply_delegations(DelegationSet(later, "api"), replace_all=False)
    for epoch in (5, 6):
        await store.settle(_epoch(rng, epoch, 0))
    await store.finalize(4)  # epochs up to 3 final: the totals at 3..6 are kept
    assert await store.pool_totals() == _recounted(db)
    await store.revert_from(4, reason="reorg")
    for epoch in (4, 5, 6, 7):
        await store.settle(_epoch(rng, epoch, 1))
    assert await store.pool_totals() == _recounted(db)
    await store.finalize(6)  # the final end is epoch 5: reversed, settled again
    assert await store.pool_totals() == _recounted(db)
    await store.finalize(7)  # epoch 6: once the newest, reversed, settled again
    assert await store.pool_totals() == _recounted(db)
    db.close()


async def test_pool_answers_at_once_while_another_caller_brings_it_up_to_date(
    db_target: str,
) -> None:
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    rng = random.Random(5)
    entries = tuple(Delegation(f"d{i:02d}", rng.randint(1, 10**9), 0) for i in range(20))
    await store.apply_delegations(DelegationSet(entries, "delegations.csv"))
    await store.settle(_epoch(rng, 0, 0))
    before = await store.pool_totals()
    await store.settle(_epoch(rng, 1, 0))
    # The refresh after epoch 1 is slow (held here): the answer meanwhile is epoch 0's, whole.
    store._credited_mutex.acquire()
    try:
        refreshing = asyncio.create_task(store.pool_totals())
        await asyncio.sleep(0.1)
        meanwhile = await asyncio.wait_for(store.pool_totals(), timeout=5)
        assert meanwhile == before
        assert meanwhile.last_settled_epoch == 0
        assert not refreshing.done()
    finally:
        store._credited_mutex.release()
    now = await refreshing
    assert now == _recounted(db)
    assert now.last_settled_epoch == 1
    db.close()
