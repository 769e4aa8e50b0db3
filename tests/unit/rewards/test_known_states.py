"""``KnownStates``: a state the daemon already read serves the windows' reads of it exactly as the
node's answer would, only by state root, for the last two states, and never after a refusal."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.beacon.models.hex_columns import HexColumn
from stakepool.beacon.models.state import ValidatorStatus
from stakepool.rewards.explaining import Record
from stakepool.rewards.known_states import KnownStates

FAR = 2**64 - 1


def _root(n: int) -> str:
    return "0x" + f"{n:064x}"


def _columns(indices: list[int], salt: int = 0) -> ValidatorColumns:
    n = len(indices)
    return ValidatorColumns(
        index=array("Q", indices),
        balance=array("Q", [32 * 10**9 + i * 7 + salt for i in indices]),
        status=[ValidatorStatus.ACTIVE_ONGOING] * n,
        effective_balance=array("Q", [32 * 10**9] * n),
        slashed=bytes((i + salt) % 2 for i in indices),
        activation_eligibility_epoch=array("Q", [0] * n),
        activation_epoch=array("Q", [i % 5 for i in indices]),
        exit_epoch=array("Q", [FAR if i % 3 else 100 + i for i in indices]),
        withdrawable_epoch=array("Q", [FAR if i % 3 else 356 + i for i in indices]),
        pubkey=HexColumn.of([f"0x{i:096x}" for i in indices], 48),
        withdrawal_credentials=HexColumn.of([f"0x01{i:062x}" for i in indices], 32),
    )


def _record(c: ValidatorColumns, row: int) -> Record:
    return Record(
        c.balance[row],
        c.effective_balance[row],
        bool(c.slashed[row]),
        c.activation_epoch[row],
        c.exit_epoch[row],
        c.withdrawable_epoch[row],
        c.pubkey[row],
    )


answered = st.lists(st.integers(0, 2_000_000), min_size=0, max_size=40, unique=True)


@given(answered, st.lists(st.integers(0, 2_000_000), max_size=40, unique=True), st.booleans())
def test_served_records_and_balances_are_the_answers_for_the_asked_indices(
    held: list[int], extra: list[int], same_order: bool
) -> None:
    known = KnownStates()
    columns = _columns(held)
    known.remember(_root(1), columns, finalized=False, optimistic=True)
    asked = sorted(held) if not same_order else list(held)
    asked += [i for i in extra if i not in held]
    state = known.get(_root(1))
    assert state is not None
    rows, missing = state.rows(asked)
    assert missing == [i for i in asked if i not in held]  # these the node is asked for
    row_of = {v: r for r, v in enumerate(held)}
    assert state.records(rows) == {i: _record(columns, row_of[i]) for i in asked if i in held}
    assert state.balances(rows) == {i: columns.balance[row_of[i]] for i in asked if i in held}
    assert (state.finalized, state.optimistic) == (False, True)


def test_only_state_roots_are_kept_and_found() -> None:
    known = KnownStates()
    for state_id in ("head", "123", "finalized", "0x12", "-1"):
        known.remember(state_id, _columns([1]), finalized=None, optimistic=False)
        assert known.get(state_id) is None
    assert len(known) == 0
    upper = "0x" + _root(0xABCDEF)[2:].upper()
    known.remember(upper, _columns([1]), finalized=None, optimistic=False)
    assert known.get(_root(0xABCDEF)) is not None  # hex case does not matter


def test_the_last_two_states_are_kept_and_a_refused_one_is_forgotten() -> None:
    known = KnownStates()
    for n in (1, 2, 3):
        known.remember(_root(n), _columns([5, 6], salt=n), finalized=None, optimistic=False)
    assert known.get(_root(1)) is None
    assert known.get(_root(2)) is not None
    assert known.get(_root(3)) is not None
    known.forget(_root(2), "head")
    assert known.get(_root(2)) is None
    assert len(known) == 1
    assert KnownStates(keep=0).get(_root(3)) is None


def test_unchanged_pubkeys_are_held_once_across_states() -> None:
    known = KnownStates()
    known.remember(_root(1), _columns([1, 2, 3]), finalized=None, optimistic=False)
    known.remember(_root(2), _columns([1, 2, 3], salt=1), finalized=None, optimistic=False)
    first, second = known.get(_root(1)), known.get(_root(2))
    assert first is not None
    assert second is not None
    assert second.pubkey is first.pubkey
    assert second.balance != first.balance  # only the equal lists are shared
    known.remember(_root(3), _columns([1, 2, 4]), finalized=None, optimistic=False)
    third = known.get(_root(3))
    assert third is not None
    assert third.pubkey[2] == f"0x{4:096x}"
