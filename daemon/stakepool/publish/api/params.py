"""Query and path parameters of the ledger API, parsed strictly: a bad value is a 400 naming it.

Numbers are plain decimal digits (no sign, no ``1e3``, no spaces) and at most 2^63−1, the largest
integer the ledger's SQLite columns hold, so an absurd value is a clear 400 rather than an overflow
deep in the store. The bounds on ranges and pages are the ledger's own (``stakepool.ledger.queries``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stakepool.ledger.queries import EpochRange, QueryError, page_limit
from stakepool.publish.api.errors import ApiError, bad_param

MAX_INTEGER = 2**63 - 1
MAX_ID_LENGTH = 128
# C0, DEL and C1: what the OpenAPI document's DelegatorId pattern excludes, exactly.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
MAX_CURSOR_LENGTH = 256

_DIGITS = re.compile(r"^[0-9]{1,19}$")


def parse_uint(name: str, raw: str) -> int:
    if not _DIGITS.match(raw) or int(raw) > MAX_INTEGER:
        raise bad_param(name, f"must be a decimal integer in 0..{MAX_INTEGER}, got {raw[:40]!r}")
    return int(raw)


def _optional_uint(query: Mapping[str, str], name: str) -> int | None:
    # Absent is "no bound"; present but empty (``?to=``) is a malformed number, as the document
    # says (``^[0-9]+$``), not a silent "no bound".
    raw = query.get(name)
    return None if raw is None else parse_uint(name, raw)


def epoch_range(query: Mapping[str, str]) -> EpochRange:
    """``?from=&to=`` (inclusive); open ends are filled by the ledger, the span is bounded there."""
    first, last = _optional_uint(query, "from"), _optional_uint(query, "to")
    try:
        return EpochRange(first, last)
    except QueryError as exc:
        raise ApiError(400, str(exc)) from exc


def limit(query: Mapping[str, str]) -> int:
    try:
        return page_limit(query.get("limit"))
    except QueryError as exc:
        raise ApiError(400, str(exc)) from exc


def cursor(query: Mapping[str, str]) -> str | None:
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_LENGTH:
        raise bad_param("cursor", "is not one this API returned")
    return raw


def account_id(name: str, raw: str) -> str:
    """A delegator id from a path or a body: non-empty, bounded, printable."""
    if not raw or len(raw) > MAX_ID_LENGTH:
        raise bad_param(name, f"must be 1 to {MAX_ID_LENGTH} characters")
    if _CONTROL.search(raw):
        raise bad_param(name, "must not contain control characters")
    return raw
