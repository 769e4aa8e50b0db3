"""A window's settlement rows from its inputs (pure), and the small parts of the fetcher."""

from __future__ import annotations

from stakepool.rewards.explaining import Record
from stakepool.rewards.settling import WindowInputs, last_slot, settled_rows
from stakepool.rewards.state_reader import StateMeta, chunked
from stakepool.rewards.types import BalanceMoves
from stakepool.rewards.window import WindowFacts
from stakepool.rewards.window_cache import KeptWindow, WindowCache

GWEI_32 = 32 * 10**9
KEY_A = "0x" + "aa" * 48
KEY_B = "0x" + "bb" * 48


def _record(balance: int, pubkey: str) -> Record:
    return Record(
        balance=balance,
        effective_balance=GWEI_32,
        slashed=False,
        activation_epoch=0,
        exit_epoch=2**64 - 1,
        withdrawable_epoch=2**64 - 1,
        pubkey=pubkey,
    )


def _inputs(**kw: object) -> WindowInputs:
    fields: dict[str, object] = {
        "facts": WindowFacts(blocks=(), withdrawals={}, deposit_requests={}),
        "start_id": "15",
        "end_id": "23",
        "start": {},
        "end": {},
        "newcomers": {},
        "pending_start": {},
        "pending_end": {},
        "consolidation_in": {},
        "consolidation_out": {},
        "finalized": True,
        "optimistic": False,
    }
    fields.update(kw)
    return WindowInputs(**fields)  # type: ignore[arg-type]


def test_last_slot() -> None:
    assert last_slot(0, 32) == 31
    assert last_slot(2, 8) == 23
    assert last_slot(-1, 32) == -1


def test_rows_settle_each_validator_with_its_moves() -> None:
    inputs = _inputs(
        facts=WindowFacts(blocks=(), withdrawals={1: 5_000}, deposit_requests={KEY_B: 10**9}),
        start={1: _record(GWEI_32 + 7_000, KEY_A)},
        end={1: GWEI_32 + 3_000, 2: 10**9 + 12},
        newcomers={2: _record(10**9 + 12, KEY_B)},
        consolidation_out={1: 100},
    )
    one, two, three = settled_rows(4, [1, 2, 3], inputs)
    # ΔB + W − Dep + ConsOut − ConsIn
    assert one.settlement_gwei == -4_000 + 5_000 + 100
    assert one.moves == BalanceMoves(withdrawals_gwei=5_000, consolidation_out_gwei=100)
    assert (one.balance_start_gwei, one.effective_balance_gwei) == (GWEI_32 + 7_000, GWEI_32)
    # Born inside the window: its pubkey (for the deposit) comes from the end state.
    assert two.balance_start_gwei == 0
    assert two.effective_balance_gwei == 0
    assert two.deposits_gwei == 10**9
    assert two.settlement_gwei == 12
    # Neither record nor balance: zero, and the shared empty moves.
    assert three.settlement_gwei == 0
    assert three.moves is settled_rows(4, [3], inputs)[0].moves
    assert [r.epoch for r in (one, two, three)] == [4, 4, 4]
    assert all(r.explanation is None for r in (one, two, three))


def test_queued_deposits_are_neutral() -> None:
    inputs = _inputs(
        start={1: _record(GWEI_32, KEY_A)},
        end={1: GWEI_32 + 2 * 10**9 + 9},
        pending_start={KEY_A: 2 * 10**9},
    )
    (row,) = settled_rows(7, [1], inputs)
    assert row.deposits_gwei == 2 * 10**9
    assert row.settlement_gwei == 9


def test_state_meta_combines_answers() -> None:
    assert StateMeta().add(True, False) == StateMeta(True, False)
    assert StateMeta().add(False, False).add(True, True) == StateMeta(False, True)
    assert StateMeta().add(None, False).add(True, False).finalized is None


def test_chunks_keep_order() -> None:
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(chunked([], 3)) == []


def test_window_cache_keeps_the_newest() -> None:
    facts = WindowFacts(blocks=(), withdrawals={}, deposit_requests={})
    cache = WindowCache(2)
    windows = {k: KeptWindow(facts, {}, str(k)) for k in range(4)}
    for k in range(3):
        cache.remember((k, ()), windows[k])
    assert cache.get((0, ())) is None
    assert cache.get((1, ())) is windows[1]
    assert cache.get((1, ("0xab",))) is None  # other blocks (a reorg): not the same window
    cache.remember((1, ()), windows[1])  # used again: now the newest
    cache.remember((3, ()), windows[3])
    assert [cache.get((k, ())) for k in range(4)] == [None, windows[1], None, windows[3]]
    assert len(cache) == 2
    none = WindowCache(0)
    none.remember((0, ()), windows[0])
    assert none.get((0, ())) is None
    assert len(none) == 0
