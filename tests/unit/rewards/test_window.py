"""What a window's blocks say: withdrawals, deposits, slashings, sync bits (recorded Electra block)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stakepool.beacon.models import PendingDeposit, SignedBeaconBlock
from stakepool.chain.bitfields import BitfieldError
from stakepool.rewards.window import (
    BUILDER_INDEX_FLAG,
    chain_gap,
    pending_by_pubkey,
    seat_positions,
    single_seat_member,
    window_facts,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "beacon" / "block_electra.json"
DEPOSIT_PUBKEY = (
    "0x999e6d581dca5d01a3fb84ae5d7d9856df98834ce7682f9f12f5f371d60e68c4"
    "ecd14a1b45ffb44cf6c2ed2b169d000c"
)


def _raw() -> dict[str, Any]:
    body = json.loads(FIXTURE.read_text())["response"]["body"]
    data: dict[str, Any] = body["data"]
    return data


def _block(raw: dict[str, Any]) -> SignedBeaconBlock:
    return SignedBeaconBlock.model_validate(raw)


def test_withdrawals_deposits_and_slashings_of_a_recorded_block() -> None:
    facts = window_facts([("0x" + "11" * 32, _block(_raw()))], 512)
    assert facts.withdrawals == {700_000: 17_000_000, 700_001: 17_000_123}
    assert facts.deposit_requests == {DEPOSIT_PUBKEY: 32_000_000_000}
    (b,) = facts.blocks
    assert b.slot == 12_345_678
    assert b.proposer == 123_456
    assert b.root == "0x" + "11" * 32
    assert b.fee_recipient == "0x388c818ca8b9251b393131c08a736a67ccb19297"
    assert b.block_hash is not None
    assert b.block_number is not None
    assert b.sync_bits is not None
    assert len(b.sync_bits) == 512
    assert b.slashed  # one proposer and one attester slashing in the recorded body


def test_builder_payments_in_the_withdrawals_are_not_validator_withdrawals() -> None:
    """Gloas: withdrawals with BUILDER_INDEX_FLAG pay a builder's bid, no validator's balance."""
    raw = copy.deepcopy(_raw())
    payload = raw["message"]["body"]["execution_payload"]
    builder = dict(payload["withdrawals"][0])
    builder["validator_index"] = str(BUILDER_INDEX_FLAG | 700_000)
    builder["amount"] = "55000000"
    payload["withdrawals"].append(builder)
    facts = window_facts([("0x" + "22" * 32, _block(raw))], 512)
    assert facts.withdrawals == {700_000: 17_000_000, 700_001: 17_000_123}


def test_several_blocks_add_up_and_come_out_in_slot_order() -> None:
    first, second = copy.deepcopy(_raw()), copy.deepcopy(_raw())
    second["message"]["slot"] = str(int(first["message"]["slot"]) + 1)
    facts = window_facts(
        [("0x" + "bb" * 32, _block(second)), ("0x" + "aa" * 32, _block(first))], 512
    )
    assert [b.root for b in facts.blocks] == ["0x" + "aa" * 32, "0x" + "bb" * 32]
    assert facts.withdrawals[700_001] == 2 * 17_000_123
    assert facts.deposit_requests[DEPOSIT_PUBKEY] == 64_000_000_000


def test_a_sync_aggregate_of_the_wrong_size_is_an_error() -> None:
    with pytest.raises(BitfieldError):
        window_facts([("0x" + "11" * 32, _block(_raw()))], 32)


def test_pending_deposits_are_summed_per_pubkey() -> None:
    def dep(pubkey: str, amount: int) -> PendingDeposit:
        return PendingDeposit.model_validate(
            {
                "pubkey": pubkey,
                "withdrawal_credentials": "0x01" + "00" * 31,
                "amount": str(amount),
                "signature": "0x" + "00" * 96,
                "slot": "5",
            }
        )

    a, b = "0x" + "aa" * 48, "0x" + "bb" * 48
    queue = [dep(a, 1), dep(b, 2), dep(a.upper().replace("0X", "0x"), 3)]
    assert pending_by_pubkey(queue) == {a: 4, b: 2}


def test_seats_and_the_single_seat_probe() -> None:
    committee = [7, 3, 7, 9, 3, 5]
    assert seat_positions(committee, [7, 5, 100]) == {7: (0, 2), 5: (5,)}
    assert single_seat_member(committee, prefer=[7, 5]) == 5
    assert single_seat_member(committee, prefer=[7]) == 9
    assert single_seat_member([1, 1, 2, 2]) is None


def test_blocks_of_one_chain_and_of_two_forks() -> None:
    first, second, third = copy.deepcopy(_raw()), copy.deepcopy(_raw()), copy.deepcopy(_raw())
    root_a, root_b, root_c = "0x" + "aa" * 32, "0x" + "bb" * 32, "0x" + "cc" * 32
    second["message"]["slot"] = str(int(first["message"]["slot"]) + 2)  # one empty slot between
    second["message"]["parent_root"] = root_a
    third["message"]["slot"] = str(int(first["message"]["slot"]) + 3)
    third["message"]["parent_root"] = root_b
    chain = [(root_a, _block(first)), (root_b, _block(second)), (root_c, _block(third))]
    assert chain_gap(chain) is None
    assert chain_gap(chain[:1]) is None
    assert chain_gap([]) is None
    third["message"]["parent_root"] = "0x" + "dd" * 32  # built on a block of another fork
    forked = [*chain[:2], (root_c, _block(third))]
    assert chain_gap(forked) == int(third["message"]["slot"])
