"""The store prepares an epoch off its writer (columns, digest, blobs) and writes exactly what a
settle preparing it inside the transaction writes: same rows, same digest, replays still no-ops."""

from __future__ import annotations

from functools import partial

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_write
from stakepool.ledger.store.prepared_epoch import prepare
from stakepool.ledger.store.sqlite_ledger import open_ledger
from tests.integration.conftest import NewTarget
from tests.integration.store.ledgerkit import dump, open_db

POLICY = LedgerPolicy(fee_bps=1000)


def _epoch(epoch: int) -> EpochSettlementInput:
    rows = tuple(
        ValidatorEpochRow(
            validator_index=i,
            reward_gwei=1_000 * epoch + i,
            components_gwei={"source": 600 + i, "target": 400 * epoch},
            residual_gwei=i % 3,
            attestation_included=None if i == 4 else i % 2 == 0,  # 4: exited, not judged
            proposals=int(i == epoch),
        )
        for i in (7, 1, 4, 12)
    )
    return EpochSettlementInput(epoch, sum(r.reward_gwei for r in rows), 10**9 + epoch, rows)


async def test_a_prepared_settle_writes_what_an_unprepared_one_writes(
    db_target: str, new_target: NewTarget
) -> None:
    inputs = [_epoch(k) for k in range(3)]
    store = open_ledger(db_target, pool_id="p", policy=POLICY)
    for inp in inputs:
        assert not (await store.settle(inp)).replayed
    assert (await store.settle(inputs[-1])).replayed  # the same digest again: nothing written
    prepared = dump(store.db)
    digests = store.db.read_sync(
        lambda c: [r[0] for r in c.execute("SELECT input_digest FROM ledger_epochs ORDER BY epoch")]
    )
    store.db.close()
    assert digests == [inp.digest() for inp in inputs]

    other = open_db(new_target())
    for inp in inputs:
        other.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))
    assert dump(other) == prepared
    other.close()

    # Prepared for the other engine (a replica's store, a test's default): the totals'
    # parameter is built again for this one, the rest taken as prepared.
    third = open_db(new_target())
    engine = third.dialect.name
    foreign = "sqlite" if engine == "postgresql" else "postgresql"
    for inp in inputs:
        third.write_sync(
            partial(ledger_write.settle, inp=inp, policy=POLICY, prepared=prepare(inp, foreign))
        )
    assert dump(third) == prepared
    third.close()
