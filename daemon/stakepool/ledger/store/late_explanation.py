"""A rewards explanation that arrives after its epoch was settled (an SQL helper of ``settle``).

The rewards endpoints may answer epochs after the balances did: the epoch is settled first with
no explanation, and the explanation comes later — often once the row is final. It changes no
money (the settlement is the balance change; the explanation only breaks it down), so it is not a
changed input, not a reorg: it is stored on the rows that lacked it, final or not (the schema's
trigger admits exactly that change), and nothing else moves.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from stakepool.ledger.settlement import EpochSettlementInput


def unexplained(inp: EpochSettlementInput) -> EpochSettlementInput:
    """``inp`` as it was settled before its explanation was known."""
    rows = tuple(replace(v, components_gwei=None, residual_gwei=None) for v in inp.validators)
    return replace(inp, validators=rows)


def store_late_explanation(
    conn: sqlite3.Connection, inp: EpochSettlementInput, settled_digest: str
) -> bool:
    """True if ``inp`` differs from the input settled (``settled_digest``) only by an explanation
    that was missing then (it is stored now, and a provisional row takes the explained digest: it
    ends as if explained at once) or only by lacking the explanation stored (nothing to do).
    False: a real change of input."""
    if any(v.components_gwei is not None for v in inp.validators):
        if unexplained(inp).digest() != settled_digest:
            return False
        conn.executemany(
            "UPDATE validator_epochs SET components_json = ?, residual_gwei = ?"
            " WHERE epoch = ? AND validator_index = ? AND components_json IS NULL",
            [
                (_json(v.components_gwei), v.residual_gwei, inp.epoch, v.validator_index)
                for v in inp.validators
                if v.components_gwei is not None
            ],
        )
        conn.execute(
            "UPDATE ledger_epochs SET input_digest = ? WHERE epoch = ? AND status = 'provisional'",
            (inp.digest(), inp.epoch),
        )
        return True
    stored = {
        int(r[0]): (None if r[1] is None else json.loads(str(r[1])), r[2])
        for r in conn.execute(
            "SELECT validator_index, components_json, residual_gwei FROM validator_epochs"
            " WHERE epoch = ?",
            (inp.epoch,),
        )
    }
    as_stored = tuple(
        replace(
            v,
            components_gwei=stored[v.validator_index][0],
            residual_gwei=_opt(stored[v.validator_index][1]),
        )
        if v.validator_index in stored
        else v
        for v in inp.validators
    )
    # Read again where the explanation can no longer be had (pruned states): what was stored
    # stands, explanation included.
    return replace(inp, validators=as_stored).digest() == settled_digest


def _json(components: dict[str, int] | None) -> str:
    return json.dumps(components, sort_keys=True, separators=(",", ":"))


def _opt(value: object) -> int | None:
    return None if value is None else int(str(value))
