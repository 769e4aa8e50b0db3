"""Membership, deposit and withdrawal neutrality at the ledger level (accounting.md §10.6, 8, 9).

A delegator joining (a deposit of principal) or leaving (a withdrawal) changes the weights from
its boundary epoch on and nothing else: the pool's result and fee are untouched, what every
delegator accrued before the boundary is untouched, and the leaver accrues nothing after it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from tests.unit.ledger.model import PureLedger

FIRST = 50
base = st.lists(
    st.builds(
        lambda i, amount: Delegation(f"d{i}", amount, FIRST),
        st.integers(0, 4),
        st.integers(1, 10**12),
    ),
    min_size=1,
    max_size=6,
)
results = st.lists(st.integers(-(10**9), 10**10), min_size=2, max_size=10)
modes = st.sampled_from(["high_water_mark", "per_epoch_positive", "period_net"])


def _run(entries: tuple[Delegation, ...], stream: list[int], mode: str) -> PureLedger:
    policy = LedgerPolicy(fee_bps=900, fee_mode=mode, fee_period_epochs=3)  # type: ignore[arg-type]
    ledger = PureLedger(policy, DelegationSet(entries, "t").schedules())
    for i, r in enumerate(stream):
        ledger.settle(FIRST + i, r)
    return ledger


@settings(max_examples=80)
@given(base, results, modes, st.integers(1, 9), st.integers(1, 10**12))
def test_a_join_changes_nothing_before_its_boundary_nor_the_pool_result(
    entries: list[Delegation], stream: list[int], mode: str, offset: int, amount: int
) -> None:
    boundary = FIRST + min(offset, len(stream) - 1)
    without = _run(tuple(entries), stream, mode)
    joined = _run((*entries, Delegation("joiner", amount, boundary)), stream, mode)
    for a, b in zip(without.settlements, joined.settlements, strict=True):
        assert (a.reward_gwei, a.fee_gwei) == (b.reward_gwei, b.fee_gwei)
    for d in without.schedules:
        assert without.accrued(d, boundary - 1) == joined.accrued(d, boundary - 1)
    assert joined.accrued("joiner", boundary - 1) == 0


@settings(max_examples=80)
@given(base, results, modes, st.integers(1, 9))
def test_a_leaver_keeps_what_it_accrued_and_accrues_nothing_after_its_exit(
    entries: list[Delegation], stream: list[int], mode: str, offset: int
) -> None:
    exit_epoch = FIRST + min(offset, len(stream) - 1)
    leaver = Delegation("leaver", 10**11, FIRST, exit_epoch)
    stays = _run((*entries, Delegation("leaver", 10**11, FIRST)), stream, mode)
    leaves = _run((*entries, leaver), stream, mode)
    last = FIRST + len(stream) - 1
    assert leaves.accrued("leaver", exit_epoch - 1) == stays.accrued("leaver", exit_epoch - 1)
    assert leaves.accrued("leaver", last) == leaves.accrued("leaver", exit_epoch - 1)
    for a, b in zip(stays.settlements, leaves.settlements, strict=True):
        assert (a.reward_gwei, a.fee_gwei) == (b.reward_gwei, b.fee_gwei)
