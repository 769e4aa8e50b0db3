"""``EpochRewards`` to JSON text and back, exactly (pure): how a read window is kept durably.

The ledger keeps each window it read (``ledger/store/windows_sql``) so a later settlement does not
need the beacon node to still hold the window's states. The text is ``EpochRewards.to_json``'s
shape minus the derived totals; integers stay JSON integers (Python reads them back exactly, far
beyond 2^53). A body that does not decode is refused with ``ValueError``: the window is then read
from the node again, never settled from a guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

import msgspec

from stakepool.execution.types import ElReward
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    ProposalEl,
    RewardExplanation,
    ValidatorEpochReward,
)

FORMAT = 1


def encode(windows: list[EpochRewards]) -> str:
    return "".join(encode_pieces(windows))


ROWS_PER_PIECE = 10_000


def encode_pieces(
    windows: list[EpochRewards], rows_per_piece: int = ROWS_PER_PIECE
) -> Iterator[str]:
    """``encode``'s text in pieces of at most ``rows_per_piece`` validator rows, so a caller on an
    event loop can let other tasks run between them (a 100,000-validator window is ~50 MB)."""
    return (piece.decode() for piece in encode_bytes(windows, rows_per_piece))


def encode_bytes(
    windows: list[EpochRewards], rows_per_piece: int = ROWS_PER_PIECE
) -> Iterator[bytes]:
    """``encode_pieces`` as UTF-8, the pieces as msgspec writes them: packing a window for the
    database takes bytes, and a text copy of each piece, encoded back, cost two passes over
    ~50 MB per window.

    msgspec walks the dataclasses itself, in C (asdict + json.dumps took over a second): same
    fields, same order, same compact JSON; only a non-ASCII note is written as UTF-8 rather than
    \\u-escaped, and both read back the same."""
    shells: list[bytes] = []
    try:  # strings live only outside the rows (ints all): a shell that encodes, encodes whole
        shells = [msgspec.json.encode(replace(w, validators=())) for w in windows]
    except UnicodeEncodeError:  # a lone surrogate in a note: only json's escaping carries it
        whole = json.dumps(
            {"format": FORMAT, "windows": [asdict(w) for w in windows]}, separators=(",", ":")
        )
        yield whole.encode()
        return
    yield b'{"format":%d,"windows":[' % FORMAT
    for n, (window, shell) in enumerate(zip(windows, shells, strict=True)):
        # "epoch" (an int) comes first, "validators" second: the first match is the field.
        cut = shell.index(_EMPTY_ROWS) + len(_EMPTY_ROWS) - 1
        yield (b"," if n else b"") + shell[:cut]
        rows = window.validators
        for start in range(0, len(rows), rows_per_piece):
            text = msgspec.json.encode(rows[start : start + rows_per_piece])
            yield (b"," if start else b"") + text[1:-1]
        yield shell[cut:]
    yield b"]}"


_EMPTY_ROWS = b'"validators":[]'


def decode(text: str | bytes) -> list[EpochRewards]:
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown kept-window format {doc.get('format')!r}")
        return [_window(w) for w in doc["windows"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"kept window unreadable: {exc!r}") from exc


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {value!r}")
    return value


def _window(d: dict[str, Any]) -> EpochRewards:
    finalized = d["finalized"]
    return EpochRewards(
        epoch=_int(d["epoch"]),
        validators=tuple(_validator(v) for v in d["validators"]),
        proposals=tuple(_proposal(p) for p in d["proposals"]),
        start_slot_state=_int(d["start_slot_state"]),
        end_slot_state=_int(d["end_slot_state"]),
        start_state_id=_str(d["start_state_id"]),
        end_state_id=_str(d["end_state_id"]),
        block_roots=tuple(_str(r) for r in d["block_roots"]),
        finalized=None if finalized is None else _bool(finalized),
        optimistic=_bool(d["optimistic"]),
        explanation_available=_bool(d["explanation_available"]),
        explanation_reason=_opt_str(d["explanation_reason"]),
        explanation_never=_bool(d["explanation_never"]),
        notes=tuple(_str(n) for n in d["notes"]),
        pending_consolidations=tuple(
            (_int(s), _int(t)) for s, t in d.get("pending_consolidations") or ()
        ),
    )


def _validator(d: dict[str, Any]) -> ValidatorEpochReward:
    e = d["explanation"]
    return ValidatorEpochReward(
        validator=_int(d["validator"]),
        epoch=_int(d["epoch"]),
        settlement_gwei=_int(d["settlement_gwei"]),
        balance_start_gwei=_int(d["balance_start_gwei"]),
        balance_end_gwei=_int(d["balance_end_gwei"]),
        moves=BalanceMoves(**{k: _int(v) for k, v in d["moves"].items()}),
        effective_balance_gwei=_int(d["effective_balance_gwei"]),
        explanation=None if e is None else _explanation(e),
        residual_gwei=_opt_int(d["residual_gwei"]),
        missed_gwei=_opt_int(d["missed_gwei"]),
    )


def _explanation(d: dict[str, Any]) -> RewardExplanation:
    return RewardExplanation(
        duty_epoch=_int(d["duty_epoch"]),
        source=_int(d["source"]),
        target=_int(d["target"]),
        head=_int(d["head"]),
        inactivity=_int(d["inactivity"]),
        proposer=_int(d["proposer"]),
        sync=_int(d["sync"]),
        slashing_penalty=_int(d["slashing_penalty"]),
        correlation_penalty=_opt_int(d["correlation_penalty"]),
    )


def _proposal(d: dict[str, Any]) -> ProposalEl:
    r = d["reward"]
    return ProposalEl(
        slot=_int(d["slot"]),
        proposer=_int(d["proposer"]),
        block_hash=_opt_str(d["block_hash"]),
        reward=None
        if r is None
        else ElReward(
            kind=_str(r["kind"]),
            amount_wei=_int(r["amount_wei"]),
            fee_recipient=_str(r["fee_recipient"]),
            priority_fees_wei=_int(r["priority_fees_wei"]),
            coinbase=_str(r["coinbase"]),
            block_number=_int(r["block_number"]),
            block_hash=_str(r["block_hash"]),
        ),
        reason=_opt_str(d["reason"]),
    )
