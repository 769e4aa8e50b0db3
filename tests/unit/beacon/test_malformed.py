"""A response that is not the expected shape raises MalformedResponse naming endpoint and field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon import routes
from stakepool.beacon.errors import MalformedResponse
from stakepool.beacon.models import (
    Envelope,
    FinalityCheckpoints,
    LegacyLiveness,
    SignedBeaconBlock,
    ValidatorBalance,
    ValidatorInfo,
    parse_as,
)
from stakepool.beacon.models.wire import field_path
from stakepool.beacon.parsing import envelope_parser
from stakepool.beacon.transport import HttpAnswer
from tests.unit.beacon.fixtures import load


def validators_body() -> dict[str, Any]:
    return copy.deepcopy(load("state_validators").body)


def parse_validators(body: Any) -> Envelope[tuple[ValidatorInfo, ...]]:
    return parse_as(Envelope[tuple[ValidatorInfo, ...]], body, "validators", node="http://bn")


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda b: b["data"][0].update(index=1.5), "data[0].index", "1.5"),
        (lambda b: b["data"][0].update(index=12), "data[0].index", "12"),
        (lambda b: b["data"][3].update(balance="abc"), "data[3].balance", "'abc'"),
        (lambda b: b["data"][1].update(balance="1e9"), "data[1].balance", "'1e9'"),
        (lambda b: b["data"][1].update(balance="-5"), "data[1].balance", "'-5'"),
        (lambda b: b["data"][1].update(balance=True), "data[1].balance", "True"),
        (lambda b: b["data"][0].pop("status"), "data[0].status", "missing"),
        (lambda b: b["data"][2].update(status="active"), "data[2].status", "active"),
        (
            lambda b: b["data"][0]["validator"].update(slashed="false"),
            "data[0].validator.slashed",
            "",
        ),
        (
            lambda b: b["data"][0]["validator"].update(pubkey="0x1234"),
            "data[0].validator.pubkey",
            "48 bytes",
        ),
        (
            lambda b: b["data"][0]["validator"].update(exit_epoch="18446744073709551616"),
            "data[0].validator.exit_epoch",
            "uint64",
        ),
        (lambda b: b.update(execution_optimistic="no"), "execution_optimistic", ""),
        (lambda b: b.update(data={"index": "1"}), "data", ""),
        (lambda b: b.pop("data"), "data", "missing"),
    ],
)
def test_malformed_validators_name_endpoint_and_field(mutate: Any, field: str, reason: str) -> None:
    body = validators_body()
    mutate(body)
    with pytest.raises(MalformedResponse) as caught:
        parse_validators(body)
    err = caught.value
    assert err.endpoint == "validators"
    assert err.field == field
    assert err.node == "http://bn"
    assert reason in err.reason
    assert "validators" in str(err)
    assert field in str(err)


def test_a_typed_routes_undecoded_body_reads_through_a_generic_parser() -> None:
    """A typed route keeps its body undecoded for the column decoder; a generic parser of the
    same route (the web page's validator set) still reads it, and refuses bytes that are not
    JSON as malformed."""
    body = load("state_validators").body
    raw = json.dumps(body).encode()
    answer = HttpAnswer(200, None, "", {}, True, raw=raw)
    parsed = envelope_parser(routes.VALIDATORS_GET, Envelope[tuple[ValidatorInfo, ...]])(
        answer, "http://bn"
    )
    assert [v.index for v in parsed.data] == [int(v["index"]) for v in body["data"]]
    broken = HttpAnswer(200, None, "", {}, True, raw=raw[:-3])
    with pytest.raises(MalformedResponse) as caught:
        envelope_parser(routes.VALIDATORS_GET, Envelope[tuple[ValidatorInfo, ...]])(
            broken, "http://bn"
        )
    assert caught.value.field == "<body>"


def test_a_body_that_is_not_json_is_malformed() -> None:
    answer = HttpAnswer(200, None, "<html>proxy error</html>", {}, False)
    with pytest.raises(MalformedResponse) as caught:
        envelope_parser(routes.FINALITY, Envelope[FinalityCheckpoints])(answer, "http://bn")
    assert caught.value.endpoint == "finality_checkpoints"
    assert caught.value.field == "<body>"


def test_a_list_where_an_object_is_expected() -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_as(Envelope[ValidatorBalance], [], "validator_balances")
    assert caught.value.field == "<body>"


def test_deep_field_path_in_a_block() -> None:
    body = copy.deepcopy(load("block_electra").body)
    body["data"]["message"]["body"]["execution_payload"]["withdrawals"][1]["amount"] = 17.5
    with pytest.raises(MalformedResponse) as caught:
        parse_as(Envelope[SignedBeaconBlock], body, "block")
    assert caught.value.field == "data.message.body.execution_payload.withdrawals[1].amount"


def test_legacy_liveness_accepts_numbers_but_not_floats_or_bools() -> None:
    ok = parse_as(LegacyLiveness, {"index": 3, "is_live": True, "epoch": "7"}, "liveness_legacy")
    assert (ok.index, ok.epoch) == (3, 7)
    for bad in (1.0, True, -1, "x"):
        with pytest.raises(MalformedResponse) as caught:
            parse_as(LegacyLiveness, {"index": bad, "is_live": True}, "liveness_legacy")
        assert caught.value.field == "index"


def test_unknown_fields_are_ignored() -> None:
    body = validators_body()
    body["data"][0]["new_field_from_the_future"] = {"x": 1}
    body["some_meta"] = 1
    assert parse_validators(body).data[0].index == 12


def test_field_path_formatting() -> None:
    assert field_path(("data", 3, "balance")) == "data[3].balance"
    assert field_path((0, "x")) == "[0].x"
    assert field_path(()) == "<body>"


@given(st.one_of(st.text(max_size=25), st.integers(), st.floats(), st.booleans(), st.none()))
def test_uint64_parses_decimal_strings_only(raw: object) -> None:
    body = {"index": raw, "balance": "1"}
    valid = isinstance(raw, str) and raw.isascii() and raw.isdigit() and int(raw) < 2**64
    if valid:
        parsed = parse_as(ValidatorBalance, body, "validator_balances")
        assert parsed.index == int(str(raw))
        assert type(parsed.index) is int
    else:
        with pytest.raises(MalformedResponse) as caught:
            parse_as(ValidatorBalance, body, "validator_balances")
        assert caught.value.field == "index"
