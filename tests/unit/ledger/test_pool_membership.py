"""The pool's membership journal maths: a change takes the pool exactly from one set to the other,
and a retired key is recorded, never dropped silently."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger.membership import MembershipChange, active_after, diff_members

PK = {i: f"0x{i:096x}" for i in range(20)}


def test_retirements_then_additions_with_their_sources() -> None:
    changes = diff_members(
        {1: PK[1], 2: PK[2]},
        {2: PK[2], 3: PK[3]},
        effective_epoch=7,
        sources={2: ("config",), 3: ("vc:vc-1",)},
    )
    assert changes == (
        MembershipChange(1, PK[1], "retired", 7, ()),
        MembershipChange(3, PK[3], "added", 7, ("vc:vc-1",)),
    )


def test_no_change_no_entry() -> None:
    assert diff_members({1: PK[1]}, {1: PK[1]}, effective_epoch=3, sources={}) == ()


sets = st.dictionaries(st.integers(0, 19), st.just(""), max_size=8).map(
    lambda d: {i: PK[i] for i in d}
)


@given(st.lists(sets, min_size=1, max_size=6))
def test_replaying_the_journal_gives_the_last_pool(history: list[dict[int, str]]) -> None:
    journal: list[MembershipChange] = []
    before: dict[int, str] = {}
    for epoch, after in enumerate(history):
        journal += diff_members(before, after, effective_epoch=epoch, sources={})
        assert active_after(journal) == after
        before = after
    ever = {i for pool in history for i in pool}
    assert {c.validator_index for c in journal if c.change == "added"} == ever
