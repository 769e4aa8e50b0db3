"""The ledger store on both engines (a SQLite file, a fresh PostgreSQL database): the §9 example
end to end, replay, reorg, finality, crashes, payouts, delegations and the outbox — one contract,
so neither engine can drift."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.ledger.delegations import Delegation, DelegationSet, parse_json, weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.settlement import EpochSettlement, EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_read, ledger_write
from stakepool.ledger.store.interface import FinalRowError, LedgerError, PayoutError
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.store import outbox
from stakepool.store.database import STORE_ERRORS
from stakepool.store.outbox_event import OutboxEvent
from tests.integration.conftest import NewTarget
from tests.integration.store.ledgerkit import delegate, dump, open_db, settle_all
from tests.unit.ledger import worked_example as ex

_SLOW_WITH_FIXTURE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
"""Each example takes fresh databases from ``new_target`` (the fixture is only their factory)."""
EXAMPLE_POLICY = LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive")


@pytest.fixture
async def example(db_target: str) -> SqliteLedgerStore:
    store = open_ledger(db_target, pool_id="alpha", policy=EXAMPLE_POLICY)
    await store.apply_delegations(DelegationSet(ex.DELEGATIONS, "delegations.toml"))
    for inp in ex.inputs():
        await store.settle(inp)
    return store


async def test_worked_example_through_the_store(example: SqliteLedgerStore) -> None:
    store = example
    totals = await store.pool_totals()
    assert totals.rewards_gwei.total == ex.TOTAL_REWARD
    assert totals.fees_gwei.total == ex.TOTAL_FEE
    assert totals.rewards_el_gwei.total == 56_000_000
    assert totals.distributed_gwei.total == ex.TOTAL_CREDITS
    assert totals.rewards_gwei.final == 0  # nothing final yet
    assert (totals.last_settled_epoch, totals.last_final_epoch) == (1005, None)
    credited = 0
    for d, reference in ex.DELEGATOR_TOTALS.items():
        detail = await store.delegator(d)
        assert detail is not None
        assert abs(detail.accrued_gwei.total - reference) <= 1
        assert detail.claimable_gwei == 0  # only final money can be claimed
        epochs = await store.delegator_epochs(d, EpochRange(1000, 1005))
        assert epochs is not None
        assert sum(e.credit_gwei for e in epochs) == detail.accrued_gwei.total
        credited += detail.accrued_gwei.total
    assert credited + totals.dust_gwei.total == ex.TOTAL_CREDITS
    assert 0 <= totals.dust_gwei.total < 6

    # The first epoch becomes final when the finalized checkpoint reaches 1001 (k + 1).
    assert await store.finalize(1001) == [1000]
    assert await store.finalize(1000) == []  # the finalized epoch never goes back
    assert await store.finalize(1006) == [1001, 1002, 1003, 1004, 1005]
    totals = await store.pool_totals()
    assert totals.rewards_gwei == type(totals.rewards_gwei)(ex.TOTAL_REWARD, ex.TOTAL_REWARD)
    rows = await store.validator_epochs(2, EpochRange(1000, 1005))
    assert [r.reward_gwei for r in rows] == [9_261, -6_940, 9_261, 9_261, 9_261, -7_803_239]
    assert [r.attestation_included for r in rows][:2] == [True, False]
    assert {r.status for r in rows} == {"final"}
    summaries = {v.validator_index: v for v in await store.validators()}
    assert sorted(summaries) == [1, 2, 3]
    assert (
        summaries[2].reward_gwei.total
        == summaries[2].reward_gwei.final
        == sum(r[1] for r in ex.SETTLEMENTS.values())
    )
    assert (summaries[1].first_epoch, summaries[1].last_epoch) == (1000, 1005)
    pool = await store.pool_epochs(EpochRange(1002, 1002))
    assert (pool[0].reward_cl_gwei, pool[0].reward_el_gwei, pool[0].fee_gwei) == (
        45_531_321,
        56_000_000,
        10_153_132,
    )
    store.db.close()


async def test_payouts_spend_only_final_money(example: SqliteLedgerStore) -> None:
    store = example
    with pytest.raises(PayoutError, match="exceeds claimable 0 Gwei"):
        await store.record_payout("D1", 1)
    await store.finalize(1003)  # 1000..1002 final
    detail = await store.delegator("D1")
    assert detail is not None
    assert detail.claimable_gwei == detail.accrued_gwei.final > 0
    paid = await store.record_payout("D1", detail.claimable_gwei - 5, reference="tx-1")
    assert paid.claimable_after_gwei == 5
    with pytest.raises(PayoutError, match="exceeds claimable 5 Gwei"):
        await store.record_payout("D1", 6)
    with pytest.raises(PayoutError, match="unknown delegator"):
        await store.record_payout("nobody", 1)
    after = await store.delegator("D1")
    assert after is not None
    assert (after.paid_gwei, after.claimable_gwei) == (paid.amount_gwei, 5)
    store.db.close()


def _inputs(results: list[int], first: int, salt: str = "") -> list[EpochSettlementInput]:
    return [
        EpochSettlementInput(
            first + i,
            r,
            None if i % 3 == 0 else 10**9 * i + 123,
            (ValidatorEpochRow(7, r, {"head": r}, 0, True, 0, 0),),
            input_digest=f"{salt}{first + i}:{r}",
        )
        for i, r in enumerate(results)
    ]


@settings(max_examples=15, deadline=None, suppress_health_check=_SLOW_WITH_FIXTURE)
@given(
    st.lists(st.integers(-(10**9), 10**10), min_size=1, max_size=8),
    st.sampled_from(["high_water_mark", "per_epoch_positive", "period_net"]),
)
def test_replaying_epochs_writes_nothing(
    new_target: NewTarget, results: list[int], mode: str
) -> None:
    policy = LedgerPolicy(fee_bps=500, fee_mode=mode, fee_period_epochs=2)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory():
        db = open_db(new_target())
        delegate(db, (Delegation("a", 3, 0), Delegation("b", 5, 2)))
        inputs = _inputs(results, 0)
        settle_all(db, inputs, policy)
        before = dump(db)
        replayed = [
            db.write_sync(partial(ledger_write.settle, inp=i, policy=policy)) for i in inputs
        ]
        assert all(r.replayed for r in replayed)
        assert dump(db) == before
        db.close()


settled = st.lists(st.integers(-(10**9), 10**10), min_size=2, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=_SLOW_WITH_FIXTURE)
@given(settled, st.data())
def test_a_reorg_recomputes_to_exactly_a_fresh_run(
    new_target: NewTarget, old: list[int], data: st.DataObject
) -> None:
    common = data.draw(st.integers(1, len(old) - 1), label="common ancestor offset")
    new_tail = data.draw(st.lists(st.integers(-(10**9), 10**10), min_size=1, max_size=6))
    policy = data.draw(
        st.sampled_from(
            [
                LedgerPolicy(fee_bps=1000),
                LedgerPolicy(fee_bps=700, fee_mode="period_net", fee_period_epochs=3),
                LedgerPolicy(fee_bps=50, loss_policy="operator_first", operator_bond_gwei=10**9),
            ]
        )
    )
    entries = (Delegation("a", 3, 10), Delegation("b", 7, 12, 15), Delegation("c", 11, 13))
    with tempfile.TemporaryDirectory():
        reorged, fresh = open_db(new_target()), open_db(new_target())
        for db in (reorged, fresh):
            delegate(db, entries)
        settle_all(reorged, _inputs(old, 10, "old"), policy)
        reorged.write_sync(lambda c: ledger_write.finalize(c, 10 + common - 1))
        final_before = [r for r in dump(reorged)[0] if r[1] == "final"]
        canonical = _inputs(old[:common], 10, "old") + _inputs(new_tail, 10 + common, "new")
        # The reorg arrives as new inputs: the first changed epoch reverses it and all later ones.
        settle_all(reorged, canonical, policy)
        settle_all(fresh, canonical, policy)
        fresh.write_sync(lambda c: ledger_write.finalize(c, 10 + common - 1))
        assert dump(reorged) == dump(fresh)
        assert [r for r in dump(reorged)[0] if r[1] == "final"] == final_before
        reversals = reorged.read_sync(
            lambda c: [r[0] for r in c.execute("SELECT epoch FROM ledger_epoch_reversals")]
        )
        assert sorted(reversals) == list(range(10 + common, 10 + len(old)))  # nothing silent
        reorged.close()
        fresh.close()


def test_final_rows_never_change(db_target: str) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))
    settle_all(db, _inputs([5, 6, 7], 0), LedgerPolicy())
    db.write_sync(lambda c: ledger_write.finalize(c, 2))  # epochs 0 and 1 final
    before = dump(db)
    changed = _inputs([9], 1, "other")[0]
    with pytest.raises(FinalRowError, match="epoch 1 is final"):
        db.write_sync(lambda c: ledger_write.settle(c, changed, LedgerPolicy()))
    with pytest.raises(FinalRowError, match="epoch 1 is final"):
        db.write_sync(lambda c: ledger_write.revert_from(c, 1, reason="test"))
    with pytest.raises(STORE_ERRORS, match="final epoch rows are immutable"):
        db.write_sync(
            lambda c: c.execute(
                "UPDATE ledger_epochs SET fee_gwei = fee_gwei + 1,"
                " distributed_gwei = distributed_gwei - 1 WHERE epoch = 0"
            )
        )
    with pytest.raises(STORE_ERRORS, match="final validator rows are immutable"):
        db.write_sync(lambda c: c.execute("DELETE FROM validator_epoch_detail WHERE epoch = 1"))
    assert dump(db) == before
    # The provisional epoch 2 can still be reversed.
    assert db.write_sync(lambda c: ledger_write.revert_from(c, 2, reason="reorg")) == [2]
    db.close()


_CRASH = """
import os, sys
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import ledger_write
from stakepool.store.database import Database

db = Database.open(sys.argv[1])
def crash(conn):
    ledger_write.settle(conn, EpochSettlementInput(2, 999, None), LedgerPolicy())
    os._exit(9)  # the process dies inside the transaction, before COMMIT
db.write_sync(crash)
"""


def test_a_crash_mid_transaction_leaves_the_previous_epoch_intact(db_target: str) -> None:
    path = db_target
    db = open_db(path)
    delegate(db, (Delegation("a", 3, 0),))
    settle_all(db, _inputs([5, 6], 0), LedgerPolicy())
    before = dump(db)
    db.close()
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(path)], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 9, proc.stderr
    db = open_db(path)
    assert dump(db) == before
    # And the epoch can be settled normally afterwards.
    settle_all(db, _inputs([7], 2), LedgerPolicy())
    assert [r[0] for r in dump(db)[0]] == [0, 1, 2]
    db.close()


def test_events_are_enqueued_with_the_epoch_or_not_at_all(db_target: str) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))

    def events(s: EpochSettlement) -> list[OutboxEvent]:
        epoch = s.epoch
        return [OutboxEvent(f"settled-{epoch}", "epoch_settled", "info", json.dumps({"e": epoch}))]

    inp = _inputs([5], 0)[0]
    db.write_sync(lambda c: ledger_write.settle(c, inp, LedgerPolicy(), events=events))
    assert [r.event_id for r in db.read_sync(lambda c: outbox.pending(c, 10))] == ["settled-0"]

    def broken(_s: EpochSettlement) -> list[OutboxEvent]:
        raise RuntimeError("event builder failed")

    with pytest.raises(RuntimeError):
        db.write_sync(
            lambda c: ledger_write.settle(c, _inputs([6], 1)[0], LedgerPolicy(), events=broken)
        )
    assert [r[0] for r in dump(db)[0]] == [0]  # epoch 1 rolled back with its events
    db.close()


async def test_delegation_changes_take_effect_at_the_next_boundary_and_are_journaled(
    db_target: str,
) -> None:
    store = open_ledger(db_target, pool_id="p", policy=LedgerPolicy())
    await store.apply_delegations(DelegationSet((Delegation("a", 10, 5),), "file.toml"))
    for inp in _inputs([100, 100], 5):
        await store.settle(inp)
    # The file now also lists b from epoch 3 (in the past): it can only count from epoch 7.
    new = DelegationSet((Delegation("a", 10, 5), Delegation("b", 30, 3)), "file.toml")
    with pytest.raises(LedgerError, match="epochs before 7 are settled already"):
        await store.apply_delegations(new, effective_epoch=6)
    result = await store.apply_delegations(new)
    assert result.effective_epoch == 7
    assert [(c.delegator, c.effective_epoch, c.weight_gwei) for c in result.changes] == [
        ("b", 7, 30)
    ]
    await store.settle(_inputs([100], 7)[0])
    b_epochs = await store.delegator_epochs("b", EpochRange(5, 7))
    assert b_epochs is not None
    assert [(e.epoch, e.weight_gwei, e.credit_gwei) for e in b_epochs] == [
        (5, 0, 0),
        (6, 0, 0),
        (7, 30, 75),
    ]
    # An API call that lists only c leaves a and b alone (merge); a file replaces everything.
    merged = await store.apply_delegations(
        parse_json({"delegations": [{"delegator": "c", "amount_gwei": "5", "from_epoch": 0}]}),
        replace_all=False,
    )
    assert merged.delegators == 3
    replaced = await store.apply_delegations(DelegationSet((Delegation("c", 5, 0),), "file.toml"))
    assert {(c.delegator, c.weight_gwei, c.previous_weight_gwei) for c in replaced.changes} == {
        ("a", 0, 10),
        ("b", 0, 30),
    }
    journal = await store.delegation_journal()
    assert [(j.delegator, j.effective_epoch, j.weight_gwei) for j in journal] == [
        ("a", 5, 10),
        ("b", 7, 30),
        ("c", 8, 5),
        ("a", 8, 0),
        ("b", 8, 0),
    ]
    page = await store.delegators(limit=2)
    assert [d.id for d in page.items] == ["a", "b"]
    assert page.next_cursor == "b"
    rest = await store.delegators(cursor=page.next_cursor, limit=2)
    assert [d.id for d in rest.items] == ["c"]
    assert rest.next_cursor is None
    status = await store.status()
    assert (status.last_settled_epoch, status.delegators) == (7, 2)
    store.db.close()


def test_dust_and_shares_hold_through_the_store_with_many_changes(db_target: str) -> None:
    db = open_db(db_target)
    entries = tuple(
        Delegation(f"d{i}", 10**9 + 7919 * i, i % 5, None if i % 3 else 8 + i % 4)
        for i in range(40)
    )
    delegate(db, entries)
    results = [123_456_789, -9_876_543, 5, 3_333_333_333, 77, -1, 10**10, 42, 999, 1_000_001]
    settle_all(db, _inputs(results, 0), LedgerPolicy(fee_bps=321))
    totals = db.read_sync(lambda c: ledger_read.pool_totals(c, "p"))
    credits = db.read_sync(ledger_read.credited_gwei).total
    assert credits + totals.dust_gwei.total == totals.distributed_gwei.total
    assert 0 <= totals.dust_gwei.total < 40
    rows = db.read_sync(
        lambda c: list(c.execute("SELECT distributed_gwei, total_weight_gwei FROM ledger_epochs"))
    )
    schedules = DelegationSet(entries, "t").schedules()
    for d, sched in schedules.items():
        exact = sum(
            (Fraction(dist * weight_at(sched, k), w) for k, (dist, w) in enumerate(rows) if w),
            Fraction(0),
        )
        detail = db.read_sync(partial(ledger_read.delegator, delegator_id=d))
        assert detail is not None
        assert abs(detail.accrued_gwei.total - exact) <= 1
    db.close()


def test_epochs_settled_after_the_finalized_checkpoint_still_become_final(db_target: str) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))
    settle_all(db, _inputs([5, 6], 0), LedgerPolicy())
    assert db.write_sync(lambda c: ledger_write.finalize(c, 10)) == [0, 1]
    settle_all(db, _inputs([7, 8], 2), LedgerPolicy())  # the ledger catches up behind finality
    assert db.write_sync(lambda c: ledger_write.finalize(c, 9)) == [2, 3]  # 9 < 10: no step back
    status = db.read_sync(ledger_read.status)
    assert (status.finalized_epoch, status.last_final_epoch) == (10, 3)
    db.close()
