"""A rewards explanation that arrives after its epoch was settled (an SQL helper of ``settle``).

The rewards endpoints may answer epochs after the balances did: the epoch is settled first with
no explanation, and the explanation comes later — often once the row is final. It changes no
money (the settlement is the balance change; the explanation only breaks it down), so it is not a
changed input, not a reorg: it is stored on the rows that lacked it, final or not (the schema's
trigger admits a change of the explanation only, never of the money), and nothing else moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import detail_sql
from stakepool.ledger.store.settle_digest import settle_digest
from stakepool.store.detail_columns import read_columns
from stakepool.store.engine import Connection


def unexplained(inp: EpochSettlementInput) -> EpochSettlementInput:
    """``inp`` as it was settled before its explanation was known."""
    rows = tuple(replace(v, components_gwei=None, residual_gwei=None) for v in inp.validators)
    return replace(inp, validators=rows)


def _digest(inp: EpochSettlementInput) -> str:
    """``inp.digest()``, from its columns when regular (seconds less at 100,000 validators)."""
    return settle_digest(inp, None if inp.input_digest else read_columns(inp.validators))


def store_late_explanation(
    conn: Connection, inp: EpochSettlementInput, settled_digest: str, digest: str
) -> bool:
    """True if ``inp`` differs from the input settled (``settled_digest``) only by an explanation
    that was missing then (it is stored now, and the row, final or not, takes the explained
    digest: it ends as if explained at once, the row an instance explained in time holds) or only
    by lacking the explanation stored (nothing to do). False: a real change of input.
    ``digest``: ``inp``'s own."""
    if any(v.components_gwei is not None for v in inp.validators):
        if _digest(unexplained(inp)) != settled_digest:
            return False
        settled = detail_sql.epoch_detail(conn, inp.epoch)
        if settled is not None:
            late = {v.validator_index: v for v in inp.validators if v.components_gwei is not None}
            merged = []
            for r in settled.rows():
                v = late.get(r.validator_index)
                if v is not None and r.components_gwei is None and r.residual_gwei is None:
                    merged.append(
                        replace(r, components_gwei=v.components_gwei, residual_gwei=v.residual_gwei)
                    )
                else:
                    merged.append(r)
            detail_sql.store_explanation(conn, inp.epoch, merged)
        conn.execute(
            # A final row admits this one change (migration 0010): the digest is the replay key,
            # not money, and two instances must not differ by when the rewards endpoints answered.
            "UPDATE ledger_epochs SET input_digest = ? WHERE epoch = ?",
            (digest, inp.epoch),
        )
        return True
    detail = detail_sql.epoch_detail(conn, inp.epoch)
    stored = (
        {}
        if detail is None
        else {r.validator_index: (r.components_gwei, r.residual_gwei) for r in detail.rows()}
    )
    as_stored = tuple(
        replace(
            v,
            components_gwei=_dict(stored[v.validator_index][0]),
            residual_gwei=stored[v.validator_index][1],
        )
        if v.validator_index in stored
        else v
        for v in inp.validators
    )
    # Read again where the explanation can no longer be had (pruned states): what was stored
    # stands, explanation included.
    return _digest(replace(inp, validators=as_stored)) == settled_digest


def _dict(components: Mapping[str, int] | None) -> dict[str, int] | None:
    return None if components is None else dict(components)
