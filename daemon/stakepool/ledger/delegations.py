"""Delegations: who holds how much weight in which epochs, from a file (TOML/CSV) or a JSON body.

A delegation set is declarative: it says, for every delegator, its principal in every epoch
(``from_epoch`` inclusive, ``to_epoch`` exclusive, several entries of one delegator add up). The
ledger turns a set into a per-delegator weight schedule and applies it from an epoch boundary on;
what was already settled never changes. Parsing validates the whole input and either returns the
complete set or raises one ``DelegationError`` that names the file and line (or the entry): a
half-read file must never reach the ledger.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stakepool.ledger.delegation_set import (
    Delegation,
    DelegationColumns,
    DelegationSet,
    schedule_of,
    weight_at,
)

__all__ = [  # the set's types are defined beside, and imported from here as before
    "CSV_HEADER",
    "MAX_DELEGATOR_ID_LENGTH",
    "MAX_GWEI",
    "Delegation",
    "DelegationColumns",
    "DelegationError",
    "DelegationSet",
    "load_file",
    "parse_csv",
    "parse_json",
    "parse_request",
    "parse_toml",
    "schedule_of",
    "weight_at",
]

MAX_DELEGATOR_ID_LENGTH = 128
_DELEGATOR_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
MAX_GWEI = 2**63 - 1
"""The bound on every amount, on each delegator's summed weight and on the pool's total weight
(9.2 billion ETH, 75 times all the ether there is): the ledger stores weights as SQLite INTEGER,
so a larger value is refused here, at entry, with the place named, never overflowed in the store."""
_MAX_GWEI = MAX_GWEI
_MAX_DIGITS = len(str(MAX_GWEI))
CSV_HEADER = ("delegator", "amount_gwei", "from_epoch", "to_epoch")


class DelegationError(ValueError):
    """A delegation input rejected whole; the message names the place and the problem."""


# --- parsing ---------------------------------------------------------------------------------------


def _int_field(value: object, name: str, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DelegationError(f"{where}: {name} must be an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise DelegationError(f"{where}: {name} must be a decimal integer, got {_shown(value)}")
        # Count digits before converting: int() of a 5,000-digit string raises a bare ValueError
        # (Python's 4,300-digit limit), and anything over 19 digits is out of range anyway.
        digits = text.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            raise DelegationError(
                f"{where}: {name} must be in {minimum}..{_MAX_GWEI}, got {len(text)} digits"
            )
        value = int(digits)
    if value < minimum or value > _MAX_GWEI:
        shown = value if value.bit_length() <= 128 else f"a {value.bit_length()}-bit number"
        raise DelegationError(f"{where}: {name} must be in {minimum}..{_MAX_GWEI}, got {shown}")
    return value


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"


def _bounded_set(entries: list[Delegation], source: str) -> DelegationSet:
    """The whole set, once its summed weight is known to fit: every amount is positive, so the
    pool's total weight bounds each delegator's weight too."""
    total = schedule_of(entries)
    peak = max((weight for _epoch, weight in total), default=0)
    if peak > _MAX_GWEI:
        epoch = next(e for e, w in total if w == peak)
        raise DelegationError(
            f"{source}: the delegations add up to {peak} Gwei at epoch {epoch},"
            f" more than the ledger holds ({_MAX_GWEI})"
        )
    return DelegationSet(tuple(entries), source)


def _entry(raw: Mapping[str, Any], where: str) -> Delegation:
    unknown = set(raw) - set(CSV_HEADER)
    if unknown:
        raise DelegationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for name in ("delegator", "amount_gwei", "from_epoch"):
        if name not in raw or raw[name] in (None, ""):
            raise DelegationError(f"{where}: {name} is missing")
    delegator = raw["delegator"]
    if not isinstance(delegator, str) or not _DELEGATOR_ID.match(delegator.strip()):
        raise DelegationError(
            f"{where}: delegator must be 1-{MAX_DELEGATOR_ID_LENGTH} characters of"
            f" A-Z a-z 0-9 _ . : @ + -, got {delegator!r}"
        )
    amount = _int_field(raw["amount_gwei"], "amount_gwei", where, minimum=1)
    from_epoch = _int_field(raw["from_epoch"], "from_epoch", where)
    to_raw = raw.get("to_epoch")
    to_epoch = None if to_raw in (None, "") else _int_field(to_raw, "to_epoch", where)
    if to_epoch is not None and to_epoch <= from_epoch:
        raise DelegationError(
            f"{where}: to_epoch ({to_epoch}) must be after from_epoch ({from_epoch});"
            " it is exclusive"
        )
    return Delegation(delegator.strip(), amount, from_epoch, to_epoch)


def parse_toml(text: str, source: str) -> DelegationSet:
    """``[[delegation]]`` tables with ``delegator``, ``amount_gwei``, ``from_epoch``, ``to_epoch``."""
    try:
        doc = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        # TOMLDecodeError is a ValueError; a 5,000-digit integer raises a bare ValueError and
        # arrays nested thousands deep a RecursionError: the same refusal, naming the file.
        raise DelegationError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(doc) - {"delegation"}
    if unknown:
        raise DelegationError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))};"
            " expected [[delegation]] tables"
        )
    raw_entries = doc.get("delegation", [])
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise DelegationError(f"{source}: 'delegation' must be an array of tables [[delegation]]")
    lines = _table_lines(text)
    entries = []
    for i, raw in enumerate(raw_entries):
        line = f":{lines[i]}" if i < len(lines) else ""
        entries.append(_entry(raw, f"{source}{line} (delegation #{i + 1})"))
    return _bounded_set(entries, source)


def _table_lines(text: str) -> list[int]:
    # tomllib keeps no positions; the [[delegation]] headers give each entry's line for errors.
    return [
        n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[delegation]]"
    ]


_PLAIN_DIGITS = _MAX_DIGITS - 1
"""Up to 18 digits is below ``MAX_GWEI`` whatever the digits: no range check needed."""


def _plain_digits(text: str) -> bool:
    return text.isdigit() and text.isascii() and len(text) <= _PLAIN_DIGITS


def _plain_row(cells: list[str]) -> Delegation | None:
    """The common, well-formed row, checked in a few steps (a file may hold a million): the same
    ``Delegation`` that ``_entry`` gives, or ``None`` for anything else (a comment, a blank line,
    a doubtful value), which then takes the full path and its worded refusal."""
    if len(cells) == 4:
        delegator, amount, start, end = cells
    elif len(cells) == 3:
        delegator, amount, start = cells
        end = ""
    else:
        return None
    if not (_plain_digits(amount) and _plain_digits(start)):
        return None
    if end and not _plain_digits(end):
        return None
    if not _DELEGATOR_ID.match(delegator):
        return None
    gwei, from_epoch = int(amount), int(start)
    to_epoch = int(end) if end else None
    if gwei < 1 or (to_epoch is not None and to_epoch <= from_epoch):
        return None
    return Delegation(delegator, gwei, from_epoch, to_epoch)


_PLAIN_HEADERS = (",".join(CSV_HEADER), ",".join(CSV_HEADER[:3]))
_PLAIN_LINE = re.compile(
    r"^([A-Za-z0-9_.:@+\-]{1,128}),([0-9]{1,18}),([0-9]{1,18})(?:,([0-9]{0,18}))?\r?$", re.M
)
"""A row ``_plain_row`` accepts, as a whole line: a delegator id, then amounts of at most 18 ASCII
digits (below ``MAX_GWEI`` whatever they are), nothing to strip, no quotes."""


def _plain_file(text: str, source: str) -> DelegationSet | None:
    """The whole file read in bulk when it is the plain form a big file takes (the exact header,
    then only ``_PLAIN_LINE`` rows, every amount positive and every range non-empty): the
    columns ``parse_csv`` would give, without one ``Delegation`` per row. ``None`` for anything
    else (a comment, a blank line, a doubtful value), which then takes the row-by-row path and
    its worded refusal."""
    header, newline, body = text.partition("\n")
    if header.removesuffix("\r") not in _PLAIN_HEADERS or not newline:
        return None
    rows = _PLAIN_LINE.findall(body)
    lines = body.count("\n") + (0 if body.endswith("\n") or not body else 1)
    if len(rows) != lines:
        return None  # a line the pattern does not match: the row-by-row path says which
    delegators = [r[0] for r in rows]
    amounts = [int(r[1]) for r in rows]
    from_epochs = [int(r[2]) for r in rows]
    to_epochs = [int(r[3]) if r[3] else None for r in rows]
    if amounts and min(amounts) < 1:
        return None
    open_ended = to_epochs.count(None) == len(to_epochs)  # the common file: nothing to compare
    if not open_ended and not all(
        t is None or t > f for f, t in zip(from_epochs, to_epochs, strict=True)
    ):
        return None
    columns = DelegationColumns(delegators, amounts, from_epochs, to_epochs)
    if sum(amounts) > _MAX_GWEI:
        return None  # may not fit: the row-by-row path sums it exactly and names the epoch
    return DelegationSet.of_columns(columns, source)


def parse_csv(text: str, source: str) -> DelegationSet:
    """``delegator,amount_gwei,from_epoch,to_epoch`` with that header; ``#`` lines are comments."""
    if (plain := _plain_file(text, source)) is not None:
        return plain
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise DelegationError(f"{source}: not valid CSV: {exc}") from exc
    entries: list[Delegation] = []
    header_seen = False
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if header_seen and (fast := _plain_row(cells)) is not None:
            entries.append(fast)
            continue
        if not cells or all(c == "" for c in cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            if tuple(c.lower() for c in cells) not in (CSV_HEADER, CSV_HEADER[:3]):
                raise DelegationError(
                    f"{source}:{number}: expected the header {','.join(CSV_HEADER)}, got {row!r}"
                )
            header_seen = True
            continue
        if len(cells) not in (3, 4):
            raise DelegationError(
                f"{source}:{number}: expected 3 or 4 columns ({','.join(CSV_HEADER)}),"
                f" got {len(cells)}"
            )
        entries.append(_entry(dict(zip(CSV_HEADER, cells, strict=False)), f"{source}:{number}"))
    if not header_seen:
        raise DelegationError(f"{source}: empty file; expected the header {','.join(CSV_HEADER)}")
    return _bounded_set(entries, source)


def parse_json(body: object, source: str = "api") -> DelegationSet:
    """An API body: ``{"delegations": [{delegator, amount_gwei, from_epoch, to_epoch?}, ...]}``.
    Amounts may be decimal strings (as everywhere in the API) or integers."""
    if not isinstance(body, dict) or not isinstance(body.get("delegations"), list):
        raise DelegationError(f"{source}: expected an object with a 'delegations' array")
    unknown = set(body) - {"delegations", "replace"}
    if unknown:
        raise DelegationError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    entries = []
    for i, raw in enumerate(body["delegations"]):
        if not isinstance(raw, dict):
            raise DelegationError(f"{source}: delegations[{i}] must be an object")
        entries.append(_entry(raw, f"{source}: delegations[{i}]"))
    return _bounded_set(entries, source)


def parse_request(body: object, source: str = "api") -> tuple[DelegationSet, bool]:
    """``POST /api/v1/delegations``: the set and whether it replaces every delegator
    (``"replace": true``) or only the listed ones (default)."""
    delegations = parse_json(body, source)
    replace = body.get("replace", False) if isinstance(body, dict) else False
    if not isinstance(replace, bool):
        raise DelegationError(f"{source}: 'replace' must be true or false, got {replace!r}")
    return delegations, replace


def load_file(path: Path) -> DelegationSet:
    """Read and validate a delegations file (``.csv`` → CSV, anything else → TOML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DelegationError(f"{path}: cannot read: {exc}") from exc
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    return parse_toml(text, str(path))
