"""The same delegations file applied again (the daemon's every restart) is known to change nothing
without reading every schedule, and only when that is true: after a change from elsewhere, from an
earlier boundary, or with another file, it is applied in full. On both engines."""

from __future__ import annotations

from typing import Any

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.queries import DelegationApplyResult
from stakepool.ledger.store import delegations_sql
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration.api.conftest import EPOCHS, POLICY, POOL_ID

GWEI = 10**9
FILE = (
    Delegation("alice", 16 * GWEI, 0),
    Delegation("bob", 8 * GWEI, 0, 4),
    Delegation("carol", 32 * GWEI, 2),
)


def _weights(db: Database) -> list[tuple[Any, ...]]:
    return db.read_sync(
        lambda c: [
            tuple(r)
            for r in c.execute(
                "SELECT delegator, epoch, weight_gwei FROM delegator_weights"
                " ORDER BY delegator, epoch"
            )
        ]
    )


def _answer(result: DelegationApplyResult) -> tuple[object, ...]:
    return (
        result.effective_epoch,
        list(result.changes),
        result.delegators,
        result.weight_before_gwei,
        result.weight_removed_gwei,
    )


def _in_full(db: Database, delegations: DelegationSet, epoch: int) -> DelegationApplyResult:
    """The row-by-row answer, rolled back."""

    class Answer(Exception):
        def __init__(self, result: DelegationApplyResult) -> None:
            self.result = result

    def run(c: Connection) -> None:
        raise Answer(
            delegations_sql.apply_per_delegator(
                c, delegations, effective_epoch=epoch, spare_source="api"
            )
        )

    try:
        db.write_sync(run)
    except Answer as answer:
        return answer.result
    raise AssertionError("unreachable")


async def test_the_same_file_again_changes_nothing_and_answers_as_the_full_apply(
    db_target: str,
) -> None:
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    delegations = DelegationSet(FILE, "delegations.csv")
    await store.apply_delegations(delegations, spare_source="api")
    for inp in EPOCHS[:3]:
        await store.settle(inp)
    before = _weights(db)
    journal = await store.delegation_journal()

    preview = await store.preview_delegations(delegations, spare_source="api")
    again = await store.apply_delegations(delegations, spare_source="api")
    assert _answer(again) == _answer(preview) == _answer(_in_full(db, delegations, 3))
    assert list(again.changes) == []
    assert _weights(db) == before
    assert await store.delegation_journal() == journal
    db.close()


async def test_after_an_api_change_the_file_is_applied_again_in_full(db_target: str) -> None:
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    delegations = DelegationSet(FILE, "delegations.csv")
    await store.apply_delegations(delegations, spare_source="api")
    for inp in EPOCHS[:2]:
        await store.settle(inp)
    await store.apply_delegations(
        DelegationSet((Delegation("alice", 5 * GWEI, 0),), "api"), replace_all=False
    )

    again = await store.apply_delegations(delegations, spare_source="api")
    # The file owns the delegators it names: alice is back to the file's 16 ETH from epoch 2.
    assert [(c.delegator, c.effective_epoch, c.weight_gwei) for c in again.changes] == [
        ("alice", 2, 16 * GWEI)
    ]
    assert [w for w in _weights(db) if w[0] == "alice"] == [("alice", 0, 16 * GWEI)]
    # And now it is the same file again: nothing.
    assert list((await store.apply_delegations(delegations, spare_source="api")).changes) == []
    db.close()


async def test_from_an_earlier_boundary_or_another_file_it_is_applied_in_full(
    db_target: str,
) -> None:
    db = Database.open(db_target)
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    delegations = DelegationSet(FILE, "delegations.csv")
    await store.apply_delegations(delegations, effective_epoch=5, spare_source="api")
    # From epoch 1 the file's weights start earlier than the first apply let them.
    earlier = await store.apply_delegations(delegations, effective_epoch=1, spare_source="api")
    assert [(c.delegator, c.effective_epoch) for c in earlier.changes] == [
        ("alice", 1),
        ("bob", 1),
        ("carol", 2),
    ]
    other = DelegationSet((*FILE, Delegation("dave", GWEI, 0)), "delegations.csv")
    added = await store.apply_delegations(other, effective_epoch=1, spare_source="api")
    assert [(c.delegator, c.weight_gwei) for c in added.changes] == [("dave", GWEI)]
    db.close()
