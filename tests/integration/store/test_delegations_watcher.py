"""The delegations file watcher on a real file and a real ledger file."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.sqlite_ledger import open_ledger
from stakepool.ledger.watcher import DelegationsWatcher

GOOD = "delegator,amount_gwei,from_epoch,to_epoch\nalice,100,0,\nbob,50,0,\n"
BAD = "delegator,amount_gwei,from_epoch,to_epoch\nalice,100,0,\nbob,fifty,0,\n"


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime, whatever the clock


async def test_a_changed_file_is_applied_at_the_next_boundary_and_a_bad_one_is_refused(
    tmp_path: Path,
) -> None:
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    path = tmp_path / "delegations.csv"
    _touch(path, GOOD, 1)
    boundary = {"epoch": 0}
    watcher = DelegationsWatcher(path, store, lambda: boundary["epoch"], poll_seconds=0.01)

    first = await watcher.check_once()
    assert first is not None
    assert [c.delegator for c in first.changes] == ["alice", "bob"]
    assert await watcher.check_once() is None  # unchanged file: nothing to do
    for epoch in (0, 1, 2):
        await store.settle(EpochSettlementInput(epoch, 150, None))

    _touch(path, BAD, 2)
    boundary["epoch"] = 3
    assert await watcher.check_once() is None
    assert watcher.last_error is not None
    assert "delegations.csv:3: amount_gwei must be a decimal integer" in watcher.last_error
    bob = await store.delegator("bob")
    assert bob is not None
    assert bob.principal_gwei == 50  # untouched by the bad file

    _touch(path, GOOD.replace("bob,50,0,", "bob,50,0,3"), 3)
    applied = await watcher.check_once()
    assert applied is not None
    assert applied.effective_epoch == 3
    assert [(c.delegator, c.effective_epoch, c.weight_gwei) for c in applied.changes] == [
        ("bob", 3, 0)
    ]
    assert watcher.last_error is None
    await store.settle(EpochSettlementInput(3, 150, None))
    bob = await store.delegator("bob")
    assert bob is not None
    assert bob.accrued_gwei.total == 150  # 50 in each of epochs 0..2, nothing from 3 on
    store.db.close()


async def test_rewriting_the_same_content_changes_nothing(tmp_path: Path) -> None:
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    path = tmp_path / "d.toml"
    text = '[[delegation]]\ndelegator = "a"\namount_gwei = 1\nfrom_epoch = 0\n'
    _touch(path, text, 1)
    watcher = DelegationsWatcher(path, store, lambda: None)
    assert await watcher.check_once() is not None
    _touch(path, text, 2)
    assert await watcher.check_once() is None
    await store.apply_delegations(DelegationSet((Delegation("a", 1, 0),), "x"))
    assert len(await store.delegation_journal()) == 1
    store.db.close()


async def test_a_boundary_the_ledger_refuses_is_retried_not_forgotten(tmp_path: Path) -> None:
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    await store.apply_delegations(DelegationSet((Delegation("a", 1, 0),), "x"))
    for epoch in range(3):
        await store.settle(EpochSettlementInput(epoch, 10, None))
    path = tmp_path / "d.csv"
    _touch(path, GOOD, 1)
    boundary = {"epoch": 1}  # a stale clock: epochs 1 and 2 are settled already
    watcher = DelegationsWatcher(path, store, lambda: boundary["epoch"])
    assert await watcher.check_once() is None
    assert watcher.last_error is not None
    assert "epochs before 3 are settled already" in watcher.last_error
    boundary["epoch"] = 3
    applied = await watcher.check_once()  # same file, retried
    assert applied is not None
    assert applied.effective_epoch == 3
    store.db.close()


async def test_a_5000_digit_amount_is_reported_and_the_watcher_keeps_running(
    tmp_path: Path,
) -> None:
    """The probe's crash: the watcher task died on Python's 4,300-digit limit and took the daemon
    with it. Now the file is refused (named), the ledger keeps the last good set, and the
    watcher applies the next good file."""
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    path = tmp_path / "d.csv"
    _touch(path, GOOD, 1)
    watcher = DelegationsWatcher(path, store, lambda: None, poll_seconds=0.01)
    running = asyncio.create_task(watcher.run())
    try:
        await _until(lambda: watcher._applied_digest is not None, running)
        _touch(path, GOOD.replace("bob,50,", "bob," + "5" * 5000 + ","), 2)
        await _until(lambda: watcher.last_error is not None, running)
        assert "d.csv:3: amount_gwei must be in 1..9223372036854775807" in str(watcher.last_error)
        bob = await store.delegator("bob")
        assert bob is not None
        assert bob.principal_gwei == 50
        _touch(path, GOOD.replace("bob,50,", "bob,60,"), 3)
        await _until(lambda: watcher.last_error is None, running)
        bob = await store.delegator("bob")
        assert bob is not None
        assert bob.principal_gwei == 60
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        store.db.close()


async def _until(done: Callable[[], bool], task: asyncio.Task[None]) -> None:
    for _ in range(500):
        assert not task.done(), task  # the watcher must never end by itself
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")
