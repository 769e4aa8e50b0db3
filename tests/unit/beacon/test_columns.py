"""The big answers decoded into columns accept exactly what the models accept, give the same
values, and refuse bad input with the models' own error (endpoint and field)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.errors import MalformedResponse
from stakepool.beacon.models import (
    AttestationRewards,
    AttesterDuty,
    Envelope,
    ValidatorBalance,
    ValidatorInfo,
    parse_as,
)
from stakepool.beacon.models.columns import decode_balances, decode_validators
from stakepool.beacon.models.duty_columns import decode_attester_duties
from stakepool.beacon.models.reward_columns import decode_attestation_rewards
from tests.unit.beacon.fixtures import load

VALIDATORS = Envelope[tuple[ValidatorInfo, ...]]


def body(name: str) -> dict[str, Any]:
    return copy.deepcopy(load(name).body)


def raw(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_validators_as_columns_hold_what_the_models_hold() -> None:
    answer = body("state_validators")
    models = parse_as(VALIDATORS, answer, "validators")
    columns = decode_validators(raw(answer), "validators")
    assert tuple(columns.data.infos()) == models.data
    assert columns.finalized == models.finalized
    assert columns.execution_optimistic == models.execution_optimistic
    assert list(columns.data.index) == [v.index for v in models.data]
    assert columns.data.slashed == bytes(v.validator.slashed for v in models.data)


def test_balances_and_rewards_as_columns_hold_what_the_models_hold() -> None:
    balances = body("state_validator_balances")
    expected = parse_as(Envelope[tuple[ValidatorBalance, ...]], balances, "validator_balances")
    got = decode_balances(raw(balances), "validator_balances")
    assert tuple(got.data.rows()) == expected.data
    rewards = body("rewards_attestations")
    models = parse_as(Envelope[AttestationRewards], rewards, "attestation_rewards")
    columns = decode_attestation_rewards(raw(rewards), "attestation_rewards")
    assert columns.data.model() == models.data
    assert list(columns.data.inactivity) == [0, -1234]  # a penalty stays negative


def test_a_phase0_inclusion_delay_is_kept() -> None:
    rewards = body("rewards_attestations")
    rewards["data"]["total_rewards"][0]["inclusion_delay"] = "77"
    rewards["data"]["total_rewards"][1]["inclusion_delay"] = ""
    columns = decode_attestation_rewards(raw(rewards), "attestation_rewards")
    assert [r.inclusion_delay for r in columns.data.rows()] == [77, None]


def test_a_zero_padded_number_the_models_take_is_taken() -> None:
    answer = body("state_validators")
    answer["data"][0]["balance"] = "0" * 30 + "5"
    assert decode_validators(raw(answer), "validators").data.balance[0] == 5


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["data"][0].update(index=12),
        lambda b: b["data"][1].update(balance="1e9"),
        lambda b: b["data"][1].update(balance="-5"),
        lambda b: b["data"][1].update(balance=" 5"),
        lambda b: b["data"][1].update(balance=""),
        lambda b: b["data"][1].update(balance="１２"),
        lambda b: b["data"][1].update(balance=True),
        lambda b: b["data"][0].pop("status"),
        lambda b: b["data"][2].update(status="active"),
        lambda b: b["data"][0]["validator"].update(slashed="false"),
        lambda b: b["data"][0]["validator"].update(pubkey="0x1234"),
        lambda b: b["data"][0]["validator"].update(pubkey="0x" + "zz" * 48),
        lambda b: b["data"][0]["validator"].update(pubkey="0x" + "a " * 48),
        lambda b: b["data"][0]["validator"].update(exit_epoch="18446744073709551616"),
        lambda b: b["data"][0]["validator"].update(withdrawal_credentials="0x00"),
        lambda b: b.update(execution_optimistic="no"),
        lambda b: b.update(dependent_root="0x12"),
        lambda b: b.update(data={"index": "1"}),
        lambda b: b.pop("data"),
    ],
)
def test_a_bad_validators_answer_is_refused_as_the_models_refuse_it(mutate: Any) -> None:
    answer = body("state_validators")
    mutate(answer)
    with pytest.raises(MalformedResponse) as by_models:
        parse_as(VALIDATORS, answer, "validators", node="http://bn")
    with pytest.raises(MalformedResponse) as by_columns:
        decode_validators(raw(answer), "validators", node="http://bn")
    assert (by_columns.value.field, by_columns.value.reason) == (
        by_models.value.field,
        by_models.value.reason,
    )
    assert by_columns.value.node == "http://bn"


def test_bytes_that_are_not_json_are_refused() -> None:
    with pytest.raises(MalformedResponse) as caught:
        decode_balances(b"<html>", "validator_balances")
    assert caught.value.field == "<body>"


@pytest.mark.parametrize(
    ("field", "value"),
    [("target", "-9223372036854775809"), ("head", "1.5"), ("source", "-"), ("inactivity", 3)],
)
def test_a_bad_reward_is_refused_naming_it(field: str, value: object) -> None:
    rewards = body("rewards_attestations")
    rewards["data"]["total_rewards"][1][field] = value
    with pytest.raises(MalformedResponse) as caught:
        decode_attestation_rewards(raw(rewards), "attestation_rewards")
    assert caught.value.field == f"data.total_rewards[1].{field}"


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**64 - 1),
            st.integers(0, 2**64 - 1),
            st.one_of(st.text(max_size=22), st.integers(-(2**65), 2**65).map(str)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_balances_columns_agree_with_the_models_on_anything(
    rows: list[tuple[int, int, str]],
) -> None:
    answer = {
        "data": [
            {"index": str(i), "balance": str(b) if n % 2 else text}
            for n, (i, b, text) in enumerate(rows)
        ]
    }
    model = Envelope[tuple[ValidatorBalance, ...]]
    by_models: Any = None
    try:
        by_models = parse_as(model, answer, "validator_balances").data
    except MalformedResponse as refused:
        by_models = (refused.field, refused.reason)
    by_columns: Any = None
    try:
        by_columns = tuple(decode_balances(raw(answer), "validator_balances").data.rows())
    except MalformedResponse as refused:
        by_columns = (refused.field, refused.reason)
    assert by_columns == by_models


def test_attester_duties_as_columns_keep_the_models_and_the_dependent_root() -> None:
    duties = body("attester_duties")
    models = parse_as(Envelope[tuple[AttesterDuty, ...]], duties, "attester_duties")
    columns = decode_attester_duties(raw(duties), "attester_duties")
    assert tuple(columns.data.rows()) == models.data
    assert columns.dependent_root == models.dependent_root is not None
    duties["data"][0]["validator_committee_index"] = "-1"
    with pytest.raises(MalformedResponse) as caught:
        decode_attester_duties(raw(duties), "attester_duties")
    assert caught.value.field == "data[0].validator_committee_index"


@given(
    st.lists(st.integers(0, 40), min_size=0, max_size=30),
    st.frozensets(st.integers(0, 40)),
)
def test_attester_duties_of_some_members_are_their_rows_in_order(
    owners: list[int], members: frozenset[int]
) -> None:
    """``only`` (the monitor keeps its cached duties to the pool as it changes): the rows of the
    members, in answer order, every column along."""
    template = body("attester_duties")["data"][0]
    rows = [
        {**template, "validator_index": str(v), "slot": str(100 + i), "committee_index": str(i)}
        for i, v in enumerate(owners)
    ]
    answer = {"dependent_root": "0x" + "ab" * 32, "execution_optimistic": False, "data": rows}
    columns = decode_attester_duties(raw(answer), "attester_duties").data
    kept = columns.only(members)
    assert tuple(kept.rows()) == tuple(d for d in columns.rows() if d.validator_index in members)
    bare = columns.without_pubkeys().only(members)
    assert [d.model_copy(update={"pubkey": ""}) for d in kept.rows()] == list(bare.rows())
