"""Who owns a delegator: the delegations file owns those it names (and those it set last); a
delegator last set through ``POST /api/v1/delegations`` survives a file change and a restart, unless
the file names it. Real file, real watcher, real SQLite ledger."""

from __future__ import annotations

import os
from pathlib import Path

from stakepool.ledger.delegations import parse_json
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.ledger.watcher import DelegationsWatcher

HEADER = "delegator,amount_gwei,from_epoch,to_epoch\n"


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(HEADER + text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime, whatever the clock


async def _weights(store: SqliteLedgerStore, epoch: int) -> dict[str, int]:
    """Each delegator's weight in ``epoch`` (settled just before)."""
    out: dict[str, int] = {}
    for d in ("alice", "bob", "erin", "frank"):
        rows = await store.delegator_epochs(d, EpochRange(epoch, epoch))
        out[d] = 0 if not rows else rows[0].weight_gwei
    return out


async def _api(store: SqliteLedgerStore, delegator: str, amount: int) -> None:
    body = {"delegations": [{"delegator": delegator, "amount_gwei": amount, "from_epoch": 0}]}
    await store.apply_delegations(parse_json(body, "api"), replace_all=False)


async def test_the_file_keeps_what_the_api_set_and_owns_what_it_names(tmp_path: Path) -> None:
    db = str(tmp_path / "l.sqlite")
    store = open_ledger(db, pool_id="p", policy=LedgerPolicy())
    path = tmp_path / "delegations.csv"
    _touch(path, "alice,100,0,\nbob,50,0,\n", 1)
    watcher = DelegationsWatcher(path, store, lambda: None)
    assert await watcher.check_once() is not None
    await store.settle(EpochSettlementInput(0, 150, None))

    await _api(store, "erin", 30)  # joins through the API at epoch 1
    await _api(store, "bob", 70)  # the API changes a delegator the file named
    await store.settle(EpochSettlementInput(1, 250, None))
    assert await _weights(store, 1) == {"alice": 100, "bob": 70, "erin": 30, "frank": 0}

    # The file drops bob and adds frank: erin (API) stays; bob was last set by the API: stays.
    _touch(path, "alice,100,0,\nfrank,20,0,\n", 2)
    applied = await watcher.check_once()
    assert applied is not None
    assert sorted(c.delegator for c in applied.changes) == ["frank"]
    await store.settle(EpochSettlementInput(2, 220, None))
    assert await _weights(store, 2) == {"alice": 100, "bob": 70, "erin": 30, "frank": 20}

    # A restart re-reads the same file: nothing changes (nothing journaled either).
    store.db.close()
    store = open_ledger(db, pool_id="p", policy=LedgerPolicy())
    again = DelegationsWatcher(path, store, lambda: None)
    restarted = await again.check_once()
    assert restarted is not None
    assert restarted.changes == []

    # The file names erin: the file's entry replaces the API's; removing frank ends frank.
    _touch(path, "alice,100,0,\nerin,5,0,\n", 3)
    applied = await again.check_once()
    assert applied is not None
    assert sorted((c.delegator, c.weight_gwei) for c in applied.changes) == [
        ("erin", 5),
        ("frank", 0),
    ]
    await store.settle(EpochSettlementInput(3, 175, None))
    assert await _weights(store, 3) == {"alice": 100, "bob": 70, "erin": 5, "frank": 0}

    # Now the file owns erin: dropping her from the file ends her delegation.
    _touch(path, "alice,100,0,\n", 4)
    assert await again.check_once() is not None
    await store.settle(EpochSettlementInput(4, 170, None))
    assert await _weights(store, 4) == {"alice": 100, "bob": 70, "erin": 0, "frank": 0}
    store.db.close()
