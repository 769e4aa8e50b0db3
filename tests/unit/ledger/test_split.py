"""The accumulator split: accounting.md §10 money invariants over random epoch streams."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.ledger.delegations import Delegation, schedule_of
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, LedgerState, settle_epoch, wei_to_gwei
from tests.unit.ledger.model import PureLedger

FIRST = 100
EPOCHS = 12

delegation = st.builds(
    lambda d, amount, start, length: Delegation(
        f"d{d}", amount, FIRST + start, None if length is None else FIRST + start + length
    ),
    st.integers(0, 6),
    st.integers(1, 10**13),
    st.integers(0, EPOCHS - 1),
    st.none() | st.integers(1, EPOCHS),
)
streams = st.lists(st.integers(-(10**10), 10**11), min_size=1, max_size=EPOCHS)
policies = st.builds(
    LedgerPolicy,
    fee_bps=st.integers(0, 10_000),
    fee_mode=st.sampled_from(["high_water_mark", "per_epoch_positive", "period_net"]),
    loss_policy=st.sampled_from(["socialized", "operator_first"]),
    operator_bond_gwei=st.integers(0, 10**10),
    fee_period_epochs=st.integers(1, 5),
)


def _ledger(entries: list[Delegation], policy: LedgerPolicy) -> PureLedger:
    delegators = sorted({e.delegator for e in entries})
    schedules = {d: schedule_of(e for e in entries if e.delegator == d) for d in delegators}
    return PureLedger(policy, schedules)


@settings(max_examples=150)
@given(st.lists(delegation, min_size=1, max_size=12), streams, policies)
def test_conservation_exactness_and_membership(
    entries: list[Delegation], results: list[int], policy: LedgerPolicy
) -> None:
    ledger = _ledger(entries, policy)
    for i, r in enumerate(results):
        s = ledger.settle(FIRST + i, r)
        # §10.1 per epoch: the result is fully booked.
        assert (
            s.reward_gwei == s.fee_gwei + s.bond_delta_gwei + s.unassigned_gwei + s.distributed_gwei
        )
        assert 0 <= s.dust_delta_scaled < max(s.total_weight_gwei, 1)
    n = len(ledger.schedules)
    credits = {d: ledger.accrued(d) for d in ledger.schedules}
    settlements = ledger.settlements
    dust = ledger.dust()
    # §10.1 with the dust account: Σ credits + fees + bond + unassigned + dust == Σ R, 0 ≤ dust < n.
    assert sum(credits.values()) + sum(
        s.fee_gwei + s.bond_delta_gwei + s.unassigned_gwei for s in settlements
    ) + dust == sum(s.reward_gwei for s in settlements)
    assert 0 <= dust < n
    # Every delegator within 1 Gwei of its exact rational share.
    for d, credit in credits.items():
        assert abs(Fraction(credit) - ledger.exact[d]) <= 1, d
        if all(w == 0 for _e, w in ledger.schedules[d]):
            assert credit == 0


@settings(max_examples=100)
@given(st.lists(delegation, min_size=1, max_size=8), streams, st.integers(0, 10_000))
def test_no_fee_on_a_loss_and_signs_follow_the_pool_result(
    entries: list[Delegation], results: list[int], fee_bps: int
) -> None:
    for mode in ("high_water_mark", "per_epoch_positive"):
        ledger = _ledger(entries, LedgerPolicy(fee_bps=fee_bps, fee_mode=mode))
        previous = dict.fromkeys(ledger.schedules, 0)
        for i, r in enumerate(results):
            epoch = FIRST + i
            s = ledger.settle(epoch, r)
            assert 0 <= s.fee_gwei <= max(r, 0)
            if r < 0:
                assert s.fee_gwei == 0
            weights = ledger.weights(epoch)
            for d in ledger.schedules:
                now = ledger.accrued(d, epoch)
                credit = now - previous[d]
                previous[d] = now
                if weights[d] == 0:
                    assert credit == 0  # §10.6 membership: no credit without weight
                elif r >= 0:
                    assert credit >= 0  # §10.4 no unjust negatives
                else:
                    assert credit <= 0


@given(st.lists(st.integers(0, 10**18), max_size=30))
def test_el_wei_conversion_keeps_every_wei(amounts: list[int]) -> None:
    carry = 0
    total_gwei = 0
    for wei in amounts:
        gwei, carry = wei_to_gwei(wei, carry)
        total_gwei += gwei
        assert 0 <= carry < 10**9
    assert total_gwei * 10**9 + carry == sum(amounts)


def test_operator_bond_absorbs_a_loss_first_and_is_made_whole_first() -> None:
    policy = LedgerPolicy(loss_policy="operator_first", operator_bond_gwei=1_000)
    state = LedgerState()
    loss, state = settle_epoch(
        state,
        EpochSettlementInput(1, -1_500, None),
        total_weight_gwei=10,
        delegators=1,
        policy=policy,
    )
    assert (loss.bond_delta_gwei, loss.distributed_gwei) == (-1_000, -500)
    gain, state = settle_epoch(
        state,
        EpochSettlementInput(2, 1_200, None),
        total_weight_gwei=10,
        delegators=1,
        policy=policy,
    )
    assert (gain.bond_delta_gwei, gain.distributed_gwei) == (1_000, 200)
    assert state.bond_used_gwei == 0


def test_an_epoch_without_any_weight_is_unassigned_not_lost() -> None:
    s, state = settle_epoch(
        LedgerState(),
        EpochSettlementInput(5, 777, None),
        total_weight_gwei=0,
        delegators=0,
        policy=LedgerPolicy(),
    )
    assert (s.unassigned_gwei, s.distributed_gwei, state.acc_scaled) == (777, 0, 0)
