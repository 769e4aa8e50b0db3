"""Hostile delegations input: huge numbers, deep nesting, overlong fields and arbitrary bytes are
refused with one ``DelegationError`` naming the place, never a bare ``ValueError`` or a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.ledger.delegations import (
    MAX_GWEI,
    DelegationError,
    parse_csv,
    parse_json,
    parse_request,
    parse_toml,
)

HUGE = "1" * 5000  # past Python's 4,300-digit limit for int(str)


def test_a_5000_digit_amount_in_csv_is_a_delegation_error_naming_the_line() -> None:
    text = f"delegator,amount_gwei,from_epoch\nalice,5,0\nbob,{HUGE},0\n"
    with pytest.raises(DelegationError, match=r"d\.csv:3: amount_gwei must be in 1\.\.") as exc:
        parse_csv(text, "d.csv")
    assert "5000 digits" in str(exc.value)


def test_a_5000_digit_amount_in_toml_is_a_delegation_error_naming_the_file() -> None:
    text = f'[[delegation]]\ndelegator = "alice"\namount_gwei = {HUGE}\nfrom_epoch = 0\n'
    with pytest.raises(DelegationError, match=r"d\.toml: not valid TOML"):
        parse_toml(text, "d.toml")


def test_a_5000_digit_amount_as_a_string_in_toml_is_out_of_range() -> None:
    text = f'[[delegation]]\ndelegator = "alice"\namount_gwei = "{HUGE}"\nfrom_epoch = 0\n'
    with pytest.raises(DelegationError, match="amount_gwei must be in"):
        parse_toml(text, "d.toml")


def test_leading_zeros_do_not_count_as_digits_but_5000_of_them_do_not_crash() -> None:
    padded = "0" * 5000 + "7"
    text = f"delegator,amount_gwei,from_epoch\nalice,{padded},0\n"
    assert parse_csv(text, "d.csv").entries[0].amount_gwei == 7


def test_a_5000_digit_amount_in_a_json_body_is_a_delegation_error() -> None:
    body = {"delegations": [{"delegator": "alice", "amount_gwei": HUGE, "from_epoch": 0}]}
    with pytest.raises(DelegationError, match=r"delegations\[0\]: amount_gwei must be in"):
        parse_json(body)


def test_a_huge_python_integer_is_refused_without_printing_it() -> None:
    body = {"delegations": [{"delegator": "alice", "amount_gwei": 10**5000, "from_epoch": 0}]}
    with pytest.raises(DelegationError, match="16610-bit number"):
        parse_json(body)


def test_toml_nested_thousands_deep_is_a_delegation_error() -> None:
    text = "x = " + "[" * 100_000 + "]" * 100_000
    with pytest.raises(DelegationError, match="not valid TOML"):
        parse_toml(text, "d.toml")


def test_a_csv_field_over_the_csv_limit_is_a_delegation_error() -> None:
    text = "delegator,amount_gwei,from_epoch\n" + "a" * 200_000 + ",1,0\n"
    with pytest.raises(DelegationError, match="not valid CSV"):
        parse_csv(text, "d.csv")


def test_amounts_that_each_fit_but_add_up_past_the_bound_are_refused() -> None:
    text = (
        "delegator,amount_gwei,from_epoch\n"
        f"alice,{MAX_GWEI},0\n"
        f"alice,{MAX_GWEI},3\n"  # one delegator, two entries: 2^64-2 from epoch 3
    )
    with pytest.raises(DelegationError, match="add up to 18446744073709551614 Gwei at epoch 3"):
        parse_csv(text, "d.csv")
    many = [
        {"delegator": f"d{i}", "amount_gwei": str(MAX_GWEI // 2), "from_epoch": 0}
        for i in (1, 2, 3)
    ]
    with pytest.raises(DelegationError, match="more than the ledger holds"):
        parse_json({"delegations": many})


def test_the_bound_itself_is_accepted() -> None:
    text = f"delegator,amount_gwei,from_epoch\nalice,{MAX_GWEI},0\n"
    assert parse_csv(text, "d.csv").entries[0].amount_gwei == MAX_GWEI


# --- fuzz: nothing but DelegationError ------------------------------------------------------------

_FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CELL = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just(HUGE),
    st.sampled_from(["", " ", "#", "0", "1e3", "-1", "٣", "\x00", '"', "\n"]),
)


@_FUZZ
@given(st.text(max_size=2000))
def test_fuzz_csv_text_raises_nothing_but_delegation_error(text: str) -> None:
    with contextlib.suppress(DelegationError):
        parse_csv(text, "f.csv")


@_FUZZ
@given(st.lists(st.lists(_CELL, min_size=0, max_size=6), max_size=8))
def test_fuzz_csv_rows_after_a_valid_header(rows: list[list[str]]) -> None:
    text = "delegator,amount_gwei,from_epoch,to_epoch\n" + "\n".join(",".join(r) for r in rows)
    try:
        result = parse_csv(text, "f.csv")
    except DelegationError:
        return
    for entry in result.entries:
        assert 1 <= entry.amount_gwei <= MAX_GWEI


@_FUZZ
@given(st.text(max_size=2000))
def test_fuzz_toml_text_raises_nothing_but_delegation_error(text: str) -> None:
    with contextlib.suppress(DelegationError):
        parse_toml(text, "f.toml")


@_FUZZ
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["delegator", "amount_gwei", "from_epoch", "to_epoch", "x"]), _CELL
        ),
        max_size=5,
    )
)
def test_fuzz_toml_tables(tables: list[dict[str, str]]) -> None:
    def value(v: str) -> str:
        return (
            v
            if v.lstrip("-").isdigit() and v.isascii()
            else '"' + v.encode("unicode_escape").decode().replace('"', '\\"') + '"'
        )

    text = "\n".join(
        "[[delegation]]\n" + "\n".join(f"{k} = {value(v)}" for k, v in t.items()) for t in tables
    )
    with contextlib.suppress(DelegationError):
        parse_toml(text, "f.toml")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _CELL,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["delegations", "replace", "delegator", "amount_gwei", "from_epoch", "to_epoch"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@_FUZZ
@given(_JSON)
def test_fuzz_json_bodies_raise_nothing_but_delegation_error(body: object) -> None:
    with contextlib.suppress(DelegationError):
        parse_request(body)
