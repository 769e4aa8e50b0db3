"""Values the wire admits but the ledger cannot hold exactly (a balance of 2⁶⁴−1 Gwei is a valid
uint64) are refused whole with a ``LedgerError`` naming them: nothing written, never an
``OverflowError`` out of SQLite that ends the daemon."""

from __future__ import annotations

from functools import partial

import pytest

from stakepool.ledger.delegations import MAX_GWEI, Delegation, parse_json
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_write
from stakepool.ledger.store.bounds import (
    MAX_VALIDATOR_EPOCH_GWEI,
    FinalPoolSums,
    LedgerRangeError,
    PoolSums,
)
from stakepool.ledger.store.interface import LedgerError
from stakepool.ledger.store.sqlite_ledger import open_ledger
from tests.integration.store.ledgerkit import delegate, dump, open_db, settle_all

POLICY = LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive")
GWEI = 10**9
UINT64_MAX = 2**64 - 1


def _epoch(epoch: int, *rewards: int, el_wei: int | None = None) -> EpochSettlementInput:
    rows = tuple(ValidatorEpochRow(validator_index=i, reward_gwei=r) for i, r in enumerate(rewards))
    return EpochSettlementInput(epoch, sum(rewards), el_wei, rows)


def _settle(db: object, inp: EpochSettlementInput) -> None:
    db.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))  # type: ignore[attr-defined]


def test_a_balance_of_uint64_max_is_refused_and_nothing_is_written(db_target: str) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("alice", 32 * GWEI, 0),))
    settle_all(db, [_epoch(0, 10_000, 12_000)], POLICY)
    before = dump(db)
    # Validator 1's balance read as 2^64-1 at the end of epoch 1, 32 ETH before it.
    lie = _epoch(1, 11_000, UINT64_MAX - 32 * GWEI)
    with pytest.raises(
        LedgerRangeError, match="epoch 1: validator 1's reward of 18446744041709551615"
    ):
        _settle(db, lie)
    assert dump(db) == before
    settle_all(db, [_epoch(1, 11_000, 9_000)], POLICY)  # the node answers sanely: it settles
    assert [row[0] for row in dump(db)[0]] == [0, 1]
    db.close()


@pytest.mark.parametrize(
    "reward", [MAX_VALIDATOR_EPOCH_GWEI + 1, -MAX_VALIDATOR_EPOCH_GWEI - 1, -UINT64_MAX]
)
def test_a_validator_epoch_past_the_bound_either_way_is_refused(
    db_target: str, reward: int
) -> None:
    db = open_db(db_target)
    with pytest.raises(LedgerRangeError, match="validator 0's reward"):
        _settle(db, _epoch(0, reward))
    assert dump(db) == ([], [], [])
    settle_all(
        db, [_epoch(0, MAX_VALIDATOR_EPOCH_GWEI), _epoch(1, -MAX_VALIDATOR_EPOCH_GWEI)], POLICY
    )
    db.close()


def test_an_el_reward_of_uint256_max_wei_is_refused(db_target: str) -> None:
    db = open_db(db_target)
    with pytest.raises(LedgerRangeError, match="the pool's reward_el_gwei"):
        _settle(db, _epoch(0, 5, el_wei=2**256 - 1))
    assert dump(db) == ([], [], [])
    db.close()


def test_pool_sums_over_epochs_stay_within_what_sql_can_add(db_target: str) -> None:
    db = open_db(db_target)
    big = 2**62 * GWEI  # wei: 2^62 Gwei of EL reward per epoch; two epochs reach 2^63
    settle_all(db, [_epoch(0, 1, el_wei=big)], POLICY)
    with pytest.raises(LedgerRangeError, match=r"Σ\|reward_el_gwei\|"):
        _settle(db, _epoch(1, 1, el_wei=big))
    db.close()


async def test_the_store_refuses_it_as_a_ledger_error_the_feed_survives(db_target: str) -> None:
    store = open_ledger(db_target, pool_id="p", policy=POLICY)
    with pytest.raises(LedgerError):  # what LedgerFeed catches, logs and retries next epoch
        await store.settle(_epoch(0, UINT64_MAX))
    assert (await store.status()).last_settled_epoch is None
    store.db.close()


async def test_delegation_sets_that_add_up_past_the_bound_are_refused(db_target: str) -> None:
    store = open_ledger(db_target, pool_id="p", policy=POLICY)
    half = str(MAX_GWEI // 2 + 1)
    first = {"delegations": [{"delegator": "a", "amount_gwei": half, "from_epoch": 0}]}
    second = {"delegations": [{"delegator": "b", "amount_gwei": half, "from_epoch": 5}]}
    await store.apply_delegations(parse_json(first), replace_all=False)
    with pytest.raises(LedgerError, match="would reach 9223372036854775808 Gwei at epoch 5"):
        await store.apply_delegations(parse_json(second), replace_all=False)
    assert [d.id for d in (await store.delegators()).items] == ["a"]
    store.db.close()


def test_a_validator_index_past_sqlite_integer_is_refused(db_target: str) -> None:
    db = open_db(db_target)
    inp = EpochSettlementInput(
        0, 5, None, (ValidatorEpochRow(validator_index=2**63, reward_gwei=5),)
    )
    with pytest.raises(LedgerRangeError, match="validator index 9223372036854775808"):
        _settle(db, inp)
    assert dump(db) == ([], [], [])
    db.close()


def test_the_worst_real_epoch_is_accepted(db_target: str) -> None:
    """A compounding validator (2,048 ETH) fully slashed in a correlated event loses its whole
    effective balance in one epoch: a real loss, far inside the bound."""
    db = open_db(db_target)
    settle_all(db, [_epoch(0, -2048 * GWEI, 40_000)], POLICY)
    assert dump(db)[1][0][2] == -2048 * GWEI
    db.close()


def _judged(epoch: int, *rewards: int) -> EpochSettlementInput:
    """A regular epoch (every validator judged): digested, checked and packed from columns."""
    rows = tuple(
        ValidatorEpochRow(validator_index=i, reward_gwei=r, attestation_included=True)
        for i, r in enumerate(rewards)
    )
    return EpochSettlementInput(epoch, sum(rewards), None, rows)


@pytest.mark.parametrize("reward", [MAX_VALIDATOR_EPOCH_GWEI + 1, -MAX_VALIDATOR_EPOCH_GWEI - 1])
def test_a_regular_epoch_past_the_bound_is_refused_too(db_target: str, reward: int) -> None:
    db = open_db(db_target)
    with pytest.raises(LedgerRangeError, match="validator 1's reward"):
        _settle(db, _judged(0, 5, reward))
    assert dump(db) == ([], [], [])
    settle_all(db, [_judged(0, 5, MAX_VALIDATOR_EPOCH_GWEI)], POLICY)
    db.close()


def test_a_running_total_that_would_overflow_is_refused(db_target: str) -> None:
    """Reachable only after ~2¹⁹ extreme epochs, so the total is set by hand: the one aggregate
    that clears the common case must hand a total this close to the exact check."""
    db = open_db(db_target)
    settle_all(db, [_judged(0, 5, 7)], POLICY)
    near = 2**63 - 1 - 10
    db.write_sync(
        lambda c: c.execute(
            "UPDATE validator_totals SET reward_total_gwei = ? WHERE validator_index = 1", (near,)
        )
    )

    def state() -> tuple[list[tuple[object, ...]], ...]:
        return db.read_sync(
            lambda c: (
                [tuple(r) for r in c.execute("SELECT epoch FROM ledger_epochs")],
                [tuple(r) for r in c.execute("SELECT * FROM validator_totals")],
            )
        )

    before = state()
    with pytest.raises(LedgerRangeError, match="validator 1's running total"):
        _settle(db, _judged(1, 5, 11))
    assert state() == before
    _settle(db, _judged(1, 5, 10))  # exactly at the bound: kept
    assert state()[1][1][3] == 2**63 - 1
    db.close()


def test_a_running_total_near_the_negative_bound_is_checked_too(db_target: str) -> None:
    """The totals' statement leaves a total near either bound to the exact check (the guard's
    lower side: a fully slashed validator's losses, summed)."""
    db = open_db(db_target)
    settle_all(db, [_judged(0, 5, -7)], POLICY)
    near = -(2**63 - 1) + 10
    db.write_sync(
        lambda c: c.execute(
            "UPDATE validator_totals SET reward_total_gwei = ? WHERE validator_index = 1", (near,)
        )
    )
    with pytest.raises(
        LedgerRangeError, match="validator 1's running total of -9223372036854775808"
    ):
        _settle(db, _judged(1, 5, -11))
    _settle(db, _judged(1, 5, -10))  # exactly at the bound: kept, the other total moved too
    totals = db.read_sync(
        lambda c: [tuple(r) for r in c.execute("SELECT * FROM validator_totals ORDER BY 1")]
    )
    assert totals == [(0, 0, 1, 10, 0), (1, 0, 1, -(2**63 - 1), 0)]
    db.close()


async def test_the_pool_bound_counts_every_epoch_finalized_since_the_store_read_them(
    db_target: str,
) -> None:
    """The store keeps the final epochs' pool sums between its settles (a scan of every epoch
    otherwise); epochs another writer settled and finalized meanwhile still count, to the Gwei."""
    el = 2**61 * GWEI  # wei: each epoch's pool reward is 2^61 + 1 Gwei (one validator earns 1)
    ours = open_ledger(db_target, pool_id="p", policy=POLICY)
    for k in range(3):
        await ours.settle(_epoch(k, 1, el_wei=el))
        await ours.finalize(k + 1)  # epochs before k final: read once, then known
    other = open_ledger(db_target, pool_id="p", policy=POLICY)  # a writer taking over, say
    await other.settle(_epoch(3, 1, el_wei=el - 10 * GWEI))
    await other.finalize(4)  # Σ|reward_gwei| over epochs 0..3: 2^63 - 6
    with pytest.raises(LedgerRangeError, match=r"the pool's Σ\|reward_gwei\| over every"):
        await ours.settle(_epoch(4, 1, el_wei=5 * GWEI))  # 2^63 - 6 + 6: one past
    assert (await ours.settle(_epoch(4, 1, el_wei=4 * GWEI))).replayed is False  # exactly 2^63 - 1
    total = ours.db.read_sync(
        lambda c: c.execute("SELECT SUM(reward_gwei) FROM ledger_epochs").fetchone()[0]
    )
    assert int(total) == 2**63 - 1
    ours.db.close()
    other.db.close()


def test_pool_sums_known_from_another_ledger_are_read_again(db_target: str) -> None:
    """Sums a store knew of another database (a promoted replica that had not seen them, a
    restored backup) are not taken: the row they were read with differs, so every epoch is read."""
    db = open_db(db_target)
    big = 2**62 * GWEI
    settle_all(db, [_epoch(0, 1, el_wei=big)], POLICY)
    db.write_sync(partial(ledger_write.finalize, finalized_epoch=1))
    stale = PoolSums(FinalPoolSums(0, "sha256:another-ledger", (0,) * 7))
    with pytest.raises(LedgerRangeError, match=r"Σ\|reward_el_gwei\|"):
        db.write_sync(
            partial(
                ledger_write.settle, inp=_epoch(1, 1, el_wei=big), policy=POLICY, pool_sums=stale
            )
        )
    db.close()
