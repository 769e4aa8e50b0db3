"""JSON shapes of query results: amounts as decimal strings, final/total pairs, nulls kept."""

from __future__ import annotations

from stakepool.ledger.queries import DelegatorSummary, FinalTotal, Page, PoolEpoch, ValidatorEpoch
from stakepool.ledger.render import render


def test_amounts_are_decimal_strings_and_the_rest_stays_typed() -> None:
    epoch = PoolEpoch(
        1002, "final", 45_531_321, None, 101_531_321, 10_153_132, 91_378_189, 128, 4, 0, 0
    )
    assert render(epoch) == {
        "epoch": 1002,
        "status": "final",
        "reward_cl_gwei": "45531321",
        "reward_el_gwei": None,
        "reward_gwei": "101531321",
        "fee_gwei": "10153132",
        "distributed_gwei": "91378189",
        "total_weight_gwei": "128",
        "delegators": 4,
        "bond_delta_gwei": "0",
        "unassigned_gwei": "0",
    }
    row = ValidatorEpoch(
        999, 2, "provisional", -6_940, {"head": 0, "target": -4_511}, 0, False, 0, 0
    )
    rendered = render(row)
    assert rendered["components_gwei"] == {"head": "0", "target": "-4511"}
    assert rendered["attestation_included"] is False
    assert rendered["residual_gwei"] == "0"


def test_pages_and_final_total_pairs() -> None:
    page = Page([DelegatorSummary("D1", 64, FinalTotal(10, -3))], next_cursor="D1")
    assert render(page) == {
        "data": [
            {"id": "D1", "principal_gwei": "64", "accrued_gwei": {"final": "10", "total": "-3"}}
        ],
        "next_cursor": "D1",
    }
