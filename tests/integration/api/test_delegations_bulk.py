"""A first load of a delegations file (written in bulk) leaves the ledger exactly as the row-by-row
path does: the same delegators, weight schedules, per-epoch totals and journal lines in the same
order, the same answer to the caller, and then the same ``/api`` answers after settling epochs and
a later file change (which takes the row-by-row path on both)."""

from __future__ import annotations

from typing import Any

import pytest

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.queries import DelegationApplyResult
from stakepool.ledger.store import delegations_sql
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration.api.conftest import EPOCHS, FINALIZED_EPOCH, POLICY, POOL_ID, ServeApi
from tests.integration.conftest import NewTarget

GWEI = 10**9
BOUNDARY = 1

SIMPLE = (  # one entry each, out of order: the columnar path
    Delegation("carol", 32 * GWEI, 0),
    Delegation("alice", 16 * GWEI, 3),
    Delegation("bob", 8 * GWEI, 0, 4),  # ends after the boundary: a second point, weight 0
    Delegation("dave", 4 * GWEI, 0, 1),  # ends at the boundary: a delegator without weight
    Delegation("erin", 2 * GWEI, 2, 3),
)
GENERAL = (  # a delegator named twice: the schedules path
    *SIMPLE,
    Delegation("alice", 5 * GWEI, 0, 2),
    Delegation("alice", 5 * GWEI, 2, 5),  # adds up to the same weight at 2: no point there
    Delegation("frank", 1, 4),
)
LATER = (Delegation("alice", 20 * GWEI, 0), Delegation("gina", 3 * GWEI, 0))

TABLES = {
    "delegators": "SELECT id FROM delegators ORDER BY id",
    "weights": "SELECT delegator, epoch, weight_gwei FROM delegator_weights"
    " ORDER BY delegator, epoch",
    "totals": "SELECT epoch, weight_delta, count_delta FROM weight_changes ORDER BY epoch",
    "journal": "SELECT id, delegator, effective_epoch, weight_gwei, previous_weight_gwei, source"
    " FROM delegation_journal ORDER BY id",
}


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    def read(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
        return {name: [tuple(r) for r in conn.execute(sql)] for name, sql in TABLES.items()}

    return db.read_sync(read)


def _answer(result: DelegationApplyResult) -> tuple[object, ...]:
    return (
        result.effective_epoch,
        list(result.changes),
        result.delegators,
        result.weight_before_gwei,
        result.weight_removed_gwei,
    )


async def _settled(store: SqliteLedgerStore) -> None:
    for inp in EPOCHS:
        await store.settle(inp)
    await store.finalize(FINALIZED_EPOCH)
    await store.apply_delegations(DelegationSet(LATER, "later.csv"), effective_epoch=len(EPOCHS))


@pytest.mark.parametrize("entries", [SIMPLE, GENERAL], ids=["one-entry-each", "summed"])
async def test_a_bulk_first_load_is_the_row_by_row_load(
    new_target: NewTarget, serve_api: ServeApi, entries: tuple[Delegation, ...]
) -> None:
    """On both engines: PostgreSQL stages the rows by ``COPY``, SQLite by ``executemany``."""
    delegations = DelegationSet(entries, "delegations.csv")
    bulk_db = Database.open(new_target())
    rows_db = Database.open(new_target())
    bulk = SqliteLedgerStore(bulk_db, pool_id=POOL_ID, policy=POLICY)
    by_row = SqliteLedgerStore(rows_db, pool_id=POOL_ID, policy=POLICY)

    # Asked of both: a preview rolls back, but a PostgreSQL sequence keeps what it handed out.
    preview = await bulk.preview_delegations(delegations, effective_epoch=BOUNDARY)
    assert _answer(await by_row.preview_delegations(delegations, effective_epoch=BOUNDARY)) == (
        _answer(preview)
    )
    loaded = await bulk.apply_delegations(delegations, effective_epoch=BOUNDARY)
    expected = rows_db.write_sync(
        lambda c: delegations_sql.apply_per_delegator(c, delegations, effective_epoch=BOUNDARY)
    )
    assert _answer(loaded) == _answer(expected) == _answer(preview)
    assert _rows(bulk_db) == _rows(rows_db)
    assert len(_rows(bulk_db)["journal"]) == len(expected.changes) > 0

    await _settled(bulk)
    await _settled(by_row)
    assert _rows(bulk_db) == _rows(rows_db)
    assert await bulk.delegation_journal() == await by_row.delegation_journal()

    bulk_api, rows_api = await serve_api(bulk), await serve_api(by_row)
    delegators = sorted({e.delegator for e in entries + LATER})
    asked: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/pool", {}),
        ("/api/v1/delegators", {"limit": "100"}),
        ("/api/v1/delegators", {"limit": "2"}),
    ]
    for d in delegators:
        asked += [(f"/api/v1/delegators/{d}", {}), (f"/api/v1/delegators/{d}/epochs", {})]
    for path, query in asked:
        got = await bulk_api.get(path, query=query)
        want = await rows_api.get(path, query=query)
        assert (got.status, got.json) == (want.status, want.json), path
        assert got.status == 200, path
    bulk_db.close()
    rows_db.close()
