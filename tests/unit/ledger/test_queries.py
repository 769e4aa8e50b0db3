"""Query arguments: bounded ranges and pages, clear errors for anything odd."""

from __future__ import annotations

import re

import pytest

from stakepool.ledger.delegations import DelegationError, parse_request
from stakepool.ledger.queries import MAX_EPOCH_SPAN, EpochRange, QueryError, page_limit


def test_open_ranges_are_bounded_from_the_newest_epoch() -> None:
    assert EpochRange().resolve(None) is None
    assert EpochRange().resolve(5000) == (5000 - MAX_EPOCH_SPAN + 1, 5000)
    assert EpochRange(10, None).resolve(5000) == (10, 10 + MAX_EPOCH_SPAN - 1)
    assert EpochRange(None, 20).resolve(5000) == (0, 20)
    assert EpochRange.parse("7", "9").resolve(8) == (7, 9)


@pytest.mark.parametrize(
    ("from_text", "to_text", "message"),
    [
        ("x", None, "from must be a decimal epoch number"),
        ("-1", None, "from must be a decimal epoch number"),
        ("9", "7", "to (7) is before from (9)"),
        ("0", str(MAX_EPOCH_SPAN), f"at most {MAX_EPOCH_SPAN} per request"),
    ],
)
def test_bad_ranges_are_refused_with_the_reason(
    from_text: str, to_text: str | None, message: str
) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        EpochRange.parse(from_text, to_text)


def test_page_limits() -> None:
    assert page_limit(None) == 100
    assert page_limit("1000") == 1000
    for bad in ("0", "1001", "ten"):
        with pytest.raises(QueryError, match=r"limit must be an integer in 1\.\.1000"):
            page_limit(bad)


def test_delegations_request_replace_flag() -> None:
    body = {"delegations": [{"delegator": "a", "amount_gwei": "1", "from_epoch": "0"}]}
    assert parse_request(body)[1] is False
    assert parse_request({**body, "replace": True})[1] is True
    with pytest.raises(DelegationError, match="'replace' must be true or false"):
        parse_request({**body, "replace": "yes"})
