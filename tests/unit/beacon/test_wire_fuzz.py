"""Fuzzing the Beacon API's wire integers and models: any decoded JSON is either a value within its
type (uint64 ≤ 2⁶⁴−1, int64, uint256) or one ``MalformedResponse`` naming the field — never an
overflow, a 4,300-digit ``ValueError`` or a ``TypeError`` past the boundary."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from stakepool.beacon.errors import MalformedResponse
from stakepool.beacon.models import Envelope, parse_as
from stakepool.beacon.models.state import FinalityCheckpoints, ValidatorBalance, ValidatorInfo
from stakepool.beacon.models.wire import GweiStr, Int64, LenientUInt64, UInt64, UInt256

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_NUMBERISH = st.one_of(
    st.integers(min_value=-(2**300), max_value=2**300).map(str),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(
        [
            "",
            "-0",
            "00",
            "1e3",
            "1.5",
            " 1",
            "١",
            "0x10",
            "1" * 81,
            "9" * 5000,
            str(2**64),
            str(2**64 - 1),
        ]
    ),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
_BOUNDS = [
    (UInt64, 0, 2**64),
    (GweiStr, 0, 2**64),
    (LenientUInt64, 0, 2**64),
    (UInt256, 0, 2**256),
    (Int64, -(2**63), 2**63),
]


@_FUZZ
@given(_NUMBERISH)
def test_wire_integers_are_bounded_or_refused(value: Any) -> None:
    for kind, low, high in _BOUNDS:
        try:
            number = TypeAdapter(kind).validate_python(value)
        except ValidationError:
            continue
        assert type(number) is int
        assert low <= number < high, (kind, value)


_KEYS = st.sampled_from(
    [
        "data",
        "index",
        "balance",
        "status",
        "validator",
        "epoch",
        "root",
        "finalized",
        "previous_justified",
        "current_justified",
        "execution_optimistic",
        "pubkey",
        "slashed",
        "effective_balance",
        "activation_epoch",
        "exit_epoch",
        "withdrawable_epoch",
        "withdrawal_credentials",
        "activation_eligibility_epoch",
    ]
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _NUMBERISH | st.just("active_ongoing") | st.just("0x" + "ab" * 32),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=8),
    max_leaves=40,
)


@_FUZZ
@given(_JSON)
def test_models_raise_only_malformed_response(body: Any) -> None:
    for model in (
        Envelope[tuple[ValidatorBalance, ...]],
        Envelope[tuple[ValidatorInfo, ...]],
        Envelope[FinalityCheckpoints],
    ):
        try:
            parsed = parse_as(model, body, "fuzz", node="http://node")
        except MalformedResponse:
            continue
        data = parsed.data
        for item in data if isinstance(data, tuple) else ():
            assert 0 <= item.index < 2**64
            assert 0 <= item.balance < 2**64
