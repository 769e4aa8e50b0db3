"""The records handed to the ledger and the API: totals, unknown EL rewards, JSON view."""

from __future__ import annotations

import json
from dataclasses import replace

from stakepool.execution.types import ElReward
from stakepool.rewards.maths import AttestationComponents, explain, residual, settle
from stakepool.rewards.types import BalanceMoves, EpochRewards, ProposalEl, ValidatorEpochReward


def _row(v: int, start: int, end: int, moves: BalanceMoves | None = None) -> ValidatorEpochReward:
    moves = moves or BalanceMoves()
    return ValidatorEpochReward(
        validator=v,
        epoch=1002,
        settlement_gwei=settle(start, end, moves),
        balance_start_gwei=start,
        balance_end_gwei=end,
        moves=moves,
        effective_balance_gwei=32 * 10**9,
    )


def _el(amount: int) -> ElReward:
    return ElReward(
        kind="mev_payment",
        amount_wei=amount,
        fee_recipient="0x" + "11" * 20,
        priority_fees_wei=7,
        coinbase="0x" + "22" * 20,
        block_number=1,
        block_hash="0x" + "33" * 32,
    )


def _window(*proposals: ProposalEl) -> EpochRewards:
    """§9 window 1002: V1 proposed (45,503,535), V2 and V3 attested (9,261 and 18,525)."""
    return EpochRewards(
        epoch=1002,
        validators=(
            _row(1, 32_017_018_522, 32_062_522_057),
            _row(2, 32_003_002_321, 32_003_011_582),
            _row(3, 64_020_037_050, 64_020_055_575),
        ),
        proposals=proposals,
        start_slot_state=32_063,
        end_slot_state=32_095,
        start_state_id="0x" + "5a" * 32,
        end_state_id="0x" + "5b" * 32,
        block_roots=("0x" + "aa" * 32,),
        finalized=False,
    )


def test_pool_settlement_is_the_sum_of_the_validators() -> None:
    assert _window().settlement_gwei == 45_503_535 + 9_261 + 18_525


def test_el_total_is_unknown_if_any_proposal_is_unknown_never_zero() -> None:
    known = ProposalEl(32_069, 1, "0x" + "33" * 32, reward=_el(56 * 10**15))
    unknown = ProposalEl(32_070, 2, "0x" + "44" * 32, reason="no execution.url configured")
    pre_merge = ProposalEl(32_071, 3, None, reason="no execution payload")
    assert _window(known).el_wei == 56 * 10**15
    assert _window(known, unknown).el_wei is None
    assert _window(known, pre_merge).el_wei == 56 * 10**15
    assert _window().el_wei == 0  # no proposals: nothing earned, and that is known


def test_json_view_keeps_integers_and_derived_totals() -> None:
    row = _row(1, 32_000_000_000, 32_000_000_000, BalanceMoves(withdrawals_gwei=9_261))
    e = explain(1000, AttestationComponents(2_404, 4_465, 2_392))
    w = EpochRewards(
        epoch=1003,
        validators=(replace(row, explanation=e, residual_gwei=residual(row.settlement_gwei, e)),),
        proposals=(ProposalEl(32_100, 1, "0x" + "33" * 32, reward=_el(10**18)),),
        start_slot_state=32_095,
        end_slot_state=32_127,
        start_state_id="32095",
        end_state_id="32127",
        block_roots=(),
        finalized=True,
    )
    doc = json.loads(json.dumps(w.to_json()))
    assert doc["settlement_gwei"] == 9_261
    assert doc["el_wei"] == 10**18
    (v,) = doc["validators"]
    assert v["settlement_gwei"] == 9_261
    assert v["moves"]["withdrawals_gwei"] == 9_261
    assert v["deposits_gwei"] == 0
    assert v["explanation"]["total"] == 9_261
    assert v["residual_gwei"] == 0
    assert v["missed_gwei"] is None
    assert doc["proposals"][0]["reward"]["amount_wei"] == 10**18
