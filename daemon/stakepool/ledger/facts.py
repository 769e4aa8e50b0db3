"""What the ledger tells as it writes, for the faces to show (published on the event bus).

``PoolTotals`` (``ledger.queries``) is published as is after every write that moves them;
``EpochInputSettled`` carries a settled epoch's rows (their residuals feed a gauge);
``LedgerLag`` the closed epochs not settled yet; ``LedgerPaused`` settlement stopped by a full
disk (and resumed); ``DelegationsHeld`` whether a delegations file
change waits for a confirmation; ``LedgerReport`` what the demo's console prints
after the ledger wrote epochs (built only when somebody listens: it costs a few queries).
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.ledger.queries import DelegatorSummary, PoolEpoch, PoolTotals
from stakepool.ledger.settlement import EpochSettlementInput


@dataclass(frozen=True, slots=True)
class EpochInputSettled:
    input: EpochSettlementInput


@dataclass(frozen=True, slots=True)
class LedgerLag:
    epochs: int
    """Closed epochs not settled yet (1 in steady state: settlement waits one epoch)."""


@dataclass(frozen=True, slots=True)
class LedgerPaused:
    """Settlement stopped writing (``reason``: why, e.g. the disk is full) or went on (None)."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class DelegationsHeld:
    digest: str | None
    """SHA-256 of the held file content; ``None``: nothing is held (any more)."""


@dataclass(frozen=True, slots=True)
class WindowMerged:
    """Epochs ``first..last`` were settled as one merged window (no node served the states in
    between): exact in total, each epoch's share marked merged."""

    first: int
    last: int
    reason: str


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What the console shows after the ledger wrote epochs."""

    epochs: tuple[PoolEpoch, ...]
    """The epochs just written (settled, or settled again after a reorg)."""
    totals: PoolTotals
    top: tuple[DelegatorSummary, ...]


__all__ = [
    "DelegationsHeld",
    "EpochInputSettled",
    "LedgerLag",
    "LedgerPaused",
    "LedgerReport",
    "PoolTotals",
    "WindowMerged",
]
