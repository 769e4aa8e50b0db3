"""A kept window reads back exactly as it was written (any integers, explained or not, EL
rewards known or not), and a damaged body is refused rather than guessed."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.execution.types import ElReward
from stakepool.rewards import codec
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    ProposalEl,
    RewardExplanation,
    ValidatorEpochReward,
)

big = st.integers(min_value=-(2**80), max_value=2**80)
gwei = st.integers(min_value=0, max_value=2**64 - 1)
text = st.text(max_size=12)
root = st.from_regex(r"0x[0-9a-f]{64}", fullmatch=True)

explanations = st.builds(
    RewardExplanation,
    duty_epoch=gwei,
    source=big,
    target=big,
    head=big,
    inactivity=big,
    proposer=big,
    sync=big,
    slashing_penalty=gwei,
    correlation_penalty=st.none() | gwei,
)
rows = st.builds(
    ValidatorEpochReward,
    validator=gwei,
    epoch=gwei,
    settlement_gwei=big,
    balance_start_gwei=gwei,
    balance_end_gwei=gwei,
    moves=st.builds(BalanceMoves, gwei, gwei, gwei, gwei, gwei, gwei),
    effective_balance_gwei=gwei,
    explanation=st.none() | explanations,
    residual_gwei=st.none() | big,
    missed_gwei=st.none() | big,
)
el = st.builds(ElReward, text, st.integers(0, 2**256 - 1), text, gwei, text, gwei, root)
proposals = st.builds(ProposalEl, gwei, gwei, st.none() | root, st.none() | el, st.none() | text)
windows = st.builds(
    EpochRewards,
    epoch=st.integers(1, 2**40),
    validators=st.lists(rows, max_size=4).map(tuple),
    proposals=st.lists(proposals, max_size=3).map(tuple),
    start_slot_state=gwei,
    end_slot_state=gwei,
    start_state_id=text,
    end_state_id=text,
    block_roots=st.lists(root, max_size=3).map(tuple),
    finalized=st.none() | st.booleans(),
    optimistic=st.booleans(),
    explanation_available=st.booleans(),
    explanation_reason=st.none() | text,
    explanation_never=st.booleans(),
    notes=st.lists(text, max_size=2).map(tuple),
    pending_consolidations=st.lists(st.tuples(gwei, gwei), max_size=3).map(tuple),
)


@given(st.lists(windows, min_size=1, max_size=3))
def test_the_kept_text_is_byte_for_byte_what_asdict_gave(kept: list[EpochRewards]) -> None:
    """Windows kept before the msgspec encoder read the same, and an upgrade keeps them the same:
    the text is ``json.dumps`` of ``dataclasses.asdict``, key order included (a non-ASCII note
    is UTF-8 rather than \\u-escaped: the same JSON value)."""
    before = json.dumps(
        {"format": codec.FORMAT, "windows": [dataclasses.asdict(w) for w in kept]},
        separators=(",", ":"),
    )
    pairs = lambda text: json.loads(text, object_pairs_hook=list)  # noqa: E731 - order kept
    assert pairs(codec.encode(kept)) == pairs(before)
    assert codec.decode(before) == kept


@given(st.lists(windows, min_size=1, max_size=3))
def test_a_kept_window_reads_back_exactly(kept: list[EpochRewards]) -> None:
    assert codec.decode(codec.encode(kept)) == kept


@given(st.lists(windows, min_size=1, max_size=3), st.integers(1, 3))
def test_the_pieces_make_the_same_text(kept: list[EpochRewards], rows: int) -> None:
    assert "".join(codec.encode_pieces(kept, rows_per_piece=rows)) == codec.encode(kept)
    assert codec.decode("".join(codec.encode_pieces(kept, rows_per_piece=rows))) == kept
    # What the database keeps (packed from the bytes): the same text's UTF-8.
    packed = b"".join(codec.encode_bytes(kept, rows_per_piece=rows))
    assert packed == codec.encode(kept).encode()


@pytest.mark.parametrize(
    "body",
    [
        "{",
        '{"format": 2, "windows": []}',
        '{"format": 1}',
        '{"format": 1, "windows": [{"epoch": "3"}]}',
        '{"format": 1, "windows": [null]}',
    ],
)
def test_a_damaged_body_is_refused(body: str) -> None:
    with pytest.raises(ValueError, match=r"kept|format|Expecting"):
        codec.decode(body)


PIECE = 1000


def test_a_window_larger_than_one_piece_is_the_same_text() -> None:
    """Validators are encoded a piece at a time: across piece boundaries the text is unchanged."""
    validators = tuple(
        ValidatorEpochReward(
            validator=i,
            epoch=9,
            settlement_gwei=i * 3 - 1000,
            balance_start_gwei=32 * 10**9 + i,
            balance_end_gwei=32 * 10**9 + 2 * i,
            moves=BalanceMoves(withdrawals_gwei=i % 7),
            effective_balance_gwei=32 * 10**9,
            explanation=None if i % 3 else RewardExplanation(7, i, i, i, 0, 0, 0, 0),
            residual_gwei=None if i % 5 else 0,
        )
        for i in range(2 * PIECE + 345)
    )
    window = EpochRewards(9, validators, (), 287, 319, "287", "319", (), True)
    before = json.dumps(
        {"format": codec.FORMAT, "windows": [dataclasses.asdict(window)]}, separators=(",", ":")
    )
    assert codec.encode([window]) == before  # ASCII only: byte for byte
    assert "".join(codec.encode_pieces([window], rows_per_piece=PIECE)) == before
    assert codec.decode(before) == [window]
