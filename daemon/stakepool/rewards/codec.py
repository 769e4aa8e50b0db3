"""``EpochRewards`` to JSON text and back, exactly (pure): how a read window is kept durably.

The ledger keeps each window it read (``ledger/store/windows_sql``) so a later settlement does not
need the beacon node to still hold the window's states. The text is ``EpochRewards.to_json``'s
shape minus the derived totals; integers stay JSON integers (Python reads them back exactly, far
beyond 2^53). A body that does not decode is refused with ``ValueError``: the window is then read
from the node again, never settled from a guess.
"""

from __future__ import annotations

import json
from typing import Any

from stakepool.execution.types import ElReward
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    ProposalEl,
    RewardExplanation,
    ValidatorEpochReward,
)

FORMAT = 1


_SEPARATORS = (",", ":")
_CHUNK = 1000
"""Validators turned into dicts, and those into text, this many at a time: a window of 100,000
validators as one dict tree held hundreds of MB at once."""


def encode(windows: list[EpochRewards]) -> str:
    """``{"format": 1, "windows": [...]}`` as compact JSON, byte for byte what ``json.dumps`` of
    the dataclasses' ``asdict`` gave (a unit test holds them equal)."""
    return f'{{"format":{FORMAT},"windows":[{",".join(_window_text(w) for w in windows)}]}}'


def _window_text(w: EpochRewards) -> str:
    """``window_dict(w)`` as compact JSON, its validators encoded a chunk at a time."""
    rest = window_dict(w, with_validators=False)
    head = json.dumps({"epoch": rest.pop("epoch")}, separators=_SEPARATORS)[:-1]
    chunks = (
        json.dumps(
            [validator_dict(v) for v in w.validators[i : i + _CHUNK]], separators=_SEPARATORS
        )[1:-1]
        for i in range(0, len(w.validators), _CHUNK)
    )
    tail = json.dumps(rest, separators=_SEPARATORS)[1:]
    return f'{head},"validators":[{",".join(chunks)}],{tail}'


# The dicts below are what ``dataclasses.asdict`` gives, key for key in field order, built by
# hand: ``asdict`` recurses through every field with ``deepcopy`` of each integer, which cost
# seconds per window at 100,000 validators (a unit test holds the two equal).


def window_dict(w: EpochRewards, *, with_validators: bool = True) -> dict[str, Any]:
    """``asdict(w)``, without its generic recursion (``with_validators=False``: without that key,
    for ``_window_text``)."""
    out: dict[str, Any] = {"epoch": w.epoch}
    if with_validators:
        out["validators"] = [validator_dict(v) for v in w.validators]
    out |= {
        "proposals": [_proposal_dict(p) for p in w.proposals],
        "start_slot_state": w.start_slot_state,
        "end_slot_state": w.end_slot_state,
        "start_state_id": w.start_state_id,
        "end_state_id": w.end_state_id,
        "block_roots": list(w.block_roots),
        "finalized": w.finalized,
        "optimistic": w.optimistic,
        "explanation_available": w.explanation_available,
        "explanation_reason": w.explanation_reason,
        "explanation_never": w.explanation_never,
        "notes": list(w.notes),
        "pending_consolidations": [list(pair) for pair in w.pending_consolidations],
    }
    return out


def validator_dict(v: ValidatorEpochReward) -> dict[str, Any]:
    m = v.moves
    e = v.explanation
    return {
        "validator": v.validator,
        "epoch": v.epoch,
        "settlement_gwei": v.settlement_gwei,
        "balance_start_gwei": v.balance_start_gwei,
        "balance_end_gwei": v.balance_end_gwei,
        "moves": {
            "withdrawals_gwei": m.withdrawals_gwei,
            "deposit_requests_gwei": m.deposit_requests_gwei,
            "pending_deposits_start_gwei": m.pending_deposits_start_gwei,
            "pending_deposits_end_gwei": m.pending_deposits_end_gwei,
            "consolidation_in_gwei": m.consolidation_in_gwei,
            "consolidation_out_gwei": m.consolidation_out_gwei,
        },
        "effective_balance_gwei": v.effective_balance_gwei,
        "explanation": None
        if e is None
        else {
            "duty_epoch": e.duty_epoch,
            "source": e.source,
            "target": e.target,
            "head": e.head,
            "inactivity": e.inactivity,
            "proposer": e.proposer,
            "sync": e.sync,
            "slashing_penalty": e.slashing_penalty,
            "correlation_penalty": e.correlation_penalty,
        },
        "residual_gwei": v.residual_gwei,
        "missed_gwei": v.missed_gwei,
    }


def _proposal_dict(p: ProposalEl) -> dict[str, Any]:
    r = p.reward
    return {
        "slot": p.slot,
        "proposer": p.proposer,
        "block_hash": p.block_hash,
        "reward": None
        if r is None
        else {
            "kind": r.kind,
            "amount_wei": r.amount_wei,
            "fee_recipient": r.fee_recipient,
            "priority_fees_wei": r.priority_fees_wei,
            "coinbase": r.coinbase,
            "block_number": r.block_number,
            "block_hash": r.block_hash,
        },
        "reason": p.reason,
    }


def decode(text: str) -> list[EpochRewards]:
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
