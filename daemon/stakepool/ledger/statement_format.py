"""Statements, commitments and proofs as JSON objects and CSV rows (the API and the CLI share them).

Amounts are exact decimal strings: Gwei as an integer, ETH with nine decimals (``eth(1) ==
"0.000000001"``), never a float. An EL credit nobody could measure (no execution client) is the
word ``unknown`` in both units, never ``0``.
"""

from __future__ import annotations

from typing import Any

from stakepool.ledger.commitments import LEAF_ENCODING, Leaf
from stakepool.ledger.statement_queries import DelegatorProof, DelegatorStatement, PeriodCommitment

UNKNOWN = "unknown"
GWEI_PER_ETH = 10**9

AMOUNTS = (
    "opening_balance",
    "principal_in",
    "principal_out",
    "cl_credit",
    "el_credit",
    "fee",
    "losses",
    "net_credit",
    "closing_balance",
)
"""The statement's amount columns, in their order on a statement."""

CSV_COLUMNS = (
    "delegator",
    "period",
    "month",
    "status",
    "first_epoch",
    "last_epoch",
    "start_time_utc",
    "end_time_utc",
    *(f"{name}_{unit}" for name in AMOUNTS for unit in ("gwei", "eth")),
)


def eth(gwei: int) -> str:
    """An exact decimal ETH string of a Gwei amount."""
    sign = "-" if gwei < 0 else ""
    whole, frac = divmod(abs(gwei), GWEI_PER_ETH)
    return f"{sign}{whole}.{frac:09d}"


def _amounts(view: DelegatorStatement) -> dict[str, int | None]:
    s = view.statement
    return {
        "opening_balance": s.opening_balance_gwei,
        "principal_in": s.principal_in_gwei,
        "principal_out": s.principal_out_gwei,
        "cl_credit": s.cl_credit_gwei,
        "el_credit": s.el_credit_gwei,
        "fee": s.fee_gwei,
        "losses": s.losses_gwei,
        "net_credit": s.net_credit_gwei,
        "closing_balance": s.closing_balance_gwei,
    }


def statement_json(view: DelegatorStatement) -> dict[str, Any]:
    s = view.statement
    doc: dict[str, Any] = {
        "delegator": s.delegator,
        "period": view.period,
        "month": view.month,
        "period_epochs": view.period_epochs,
        "status": s.status,
        "first_epoch": s.first_epoch,
        "last_epoch": s.last_epoch,
        "start_time": view.start_time,
        "end_time": view.end_time,
    }
    for name, amount in _amounts(view).items():
        doc[f"{name}_gwei"] = UNKNOWN if amount is None else str(amount)
    return doc


def csv_row(view: DelegatorStatement) -> list[str]:
    s = view.statement
    row = [
        s.delegator,
        "" if view.period is None else str(view.period),
        view.month or "",
        s.status,
        str(s.first_epoch),
        str(s.last_epoch),
        view.start_time or "",
        view.end_time or "",
    ]
    for amount in _amounts(view).values():
        row += [UNKNOWN, UNKNOWN] if amount is None else [str(amount), eth(amount)]
    return row


def commitment_json(c: PeriodCommitment) -> dict[str, Any]:
    return {
        "period": c.period,
        "period_epochs": c.period_epochs,
        "first_epoch": c.first_epoch,
        "last_epoch": c.last_epoch,
        "root": c.root,
        "leaves": c.leaves,
        "committed_at": c.committed_at,
        "encoding": LEAF_ENCODING,
    }


def leaf_json(leaf: Leaf) -> dict[str, Any]:
    return {
        "delegator": leaf.delegator,
        "period": leaf.period,
        "cl_credit_gwei": str(leaf.cl_credit_gwei),
        "el_credit_gwei": UNKNOWN if leaf.el_credit_gwei is None else str(leaf.el_credit_gwei),
        "fee_gwei": str(leaf.fee_gwei),
        "losses_gwei": str(leaf.losses_gwei),
        "closing_balance_gwei": str(leaf.closing_balance_gwei),
    }


def leaf_from_json(doc: dict[str, Any]) -> Leaf:
    """The inverse of ``leaf_json`` (the verifier reads a proof document with it)."""
    el = doc["el_credit_gwei"]
    return Leaf(
        delegator=str(doc["delegator"]),
        period=int(doc["period"]),
        cl_credit_gwei=int(doc["cl_credit_gwei"]),
        el_credit_gwei=None if el == UNKNOWN else int(el),
        fee_gwei=int(doc["fee_gwei"]),
        losses_gwei=int(doc["losses_gwei"]),
        closing_balance_gwei=int(doc["closing_balance_gwei"]),
    )


def proof_json(p: DelegatorProof) -> dict[str, Any]:
    return {
        "commitment": commitment_json(p.commitment),
        "leaf": leaf_json(p.leaf),
        "leaf_bytes": p.leaf.encode().hex(),
        "leaf_hash": p.leaf_hash,
        "index": p.index,
        "tree_size": p.commitment.leaves,
        "proof": list(p.proof),
    }
