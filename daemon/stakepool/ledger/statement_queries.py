"""What the statement and commitment endpoints answer (typed; the HTTP layer renders them).

Amounts are ``int`` Gwei. A period's statement is provisional until every epoch of the period is
final; then it never changes, and the period has a commitment (its Merkle root) and each of its
delegators a proof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stakepool.ledger.commitments import Leaf
from stakepool.ledger.statements import Statement
from stakepool.store.outbox_event import OutboxEvent

MAX_PERIODS = 400
"""Most periods one statements request may cover (more than a year of mainnet days)."""


@dataclass(frozen=True, slots=True)
class DelegatorStatement:
    """A statement with where it sits in time: a period (``period``) or a UTC month (``month``)."""

    statement: Statement
    period: int | None
    month: str | None
    period_epochs: int
    start_time: str | None
    """UTC start of the first epoch; ``None`` until the daemon told the ledger the chain's clock."""
    end_time: str | None
    """UTC end of the last epoch (the start of the next one)."""


@dataclass(frozen=True, slots=True)
class PeriodCommitment:
    period_epochs: int
    period: int
    first_epoch: int
    last_epoch: int
    root: str
    """Hex SHA-256 Merkle root (docs/commitments.md)."""
    leaves: int
    committed_at: str


@dataclass(frozen=True, slots=True)
class DelegatorProof:
    commitment: PeriodCommitment
    leaf: Leaf
    leaf_hash: str
    index: int
    proof: tuple[str, ...]
    """Hex sibling hashes, bottom up (RFC 9162 inclusion proof)."""


CommittedHook = Callable[[PeriodCommitment], Sequence[OutboxEvent]]
"""Builds a commitment's outbox events inside the transaction that stores it."""
