"""What the ledger answers: one typed result per HTTP API endpoint, plus the bounded ranges and pages.

Amounts are ``int`` Gwei here; the HTTP layer renders them as decimal strings. A ``FinalTotal`` pair
gives the figure over final epochs only and over every settled epoch (final + provisional), because
payouts may only spend final money while dashboards want the latest figure.

Ranges and pages are bounded so that one request can never read the whole ledger:
``EpochRange`` spans at most ``MAX_EPOCH_SPAN`` epochs, a page holds at most ``MAX_PAGE_SIZE`` items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

Status = Literal["provisional", "final"]

MAX_EPOCH_SPAN = 1000
"""Most epochs one ``from``/``to`` request may cover (about 4.4 days of mainnet epochs)."""
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

T = TypeVar("T")


class QueryError(ValueError):
    """A request the ledger refuses to answer as asked (bad range, bad cursor, too large a page)."""


@dataclass(frozen=True, slots=True)
class FinalTotal:
    """``final``: over final epochs only; ``total``: over every settled epoch (final + provisional)."""

    final: int
    total: int


@dataclass(frozen=True, slots=True)
class EpochRange:
    """Inclusive ``[from_epoch, to_epoch]``; ``None`` ends are filled from what the ledger holds."""

    from_epoch: int | None = None
    to_epoch: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("from", self.from_epoch), ("to", self.to_epoch)):
            if value is not None and value < 0:
                raise QueryError(f"{name} must be an epoch >= 0, got {value}")
        if (
            self.from_epoch is not None
            and self.to_epoch is not None
            and self.to_epoch < self.from_epoch
        ):
            raise QueryError(f"to ({self.to_epoch}) is before from ({self.from_epoch})")
        if (
            self.from_epoch is not None
            and self.to_epoch is not None
            and self.to_epoch - self.from_epoch + 1 > MAX_EPOCH_SPAN
        ):
            raise QueryError(
                f"from..to covers {self.to_epoch - self.from_epoch + 1} epochs,"
                f" at most {MAX_EPOCH_SPAN} per request"
            )

    @classmethod
    def parse(cls, from_text: str | None, to_text: str | None) -> EpochRange:
        """From query-string values (``?from=&to=``); a clear ``QueryError`` on anything odd."""
        return cls(_epoch_arg("from", from_text), _epoch_arg("to", to_text))

    def resolve(self, last_epoch: int | None) -> tuple[int, int] | None:
        """Concrete bounds against the newest settled epoch; ``None`` when nothing can match.

        Missing ``to`` means the newest epoch, missing ``from`` means ``MAX_EPOCH_SPAN`` epochs back
        from ``to``, so an open range is still bounded.
        """
        if last_epoch is None:
            return None
        to_epoch = self.to_epoch if self.to_epoch is not None else last_epoch
        if self.from_epoch is not None:
            from_epoch = self.from_epoch
            to_epoch = min(to_epoch, from_epoch + MAX_EPOCH_SPAN - 1)
        else:
            from_epoch = max(0, to_epoch - MAX_EPOCH_SPAN + 1)
        return (from_epoch, to_epoch)


def _epoch_arg(name: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit():
        raise QueryError(f"{name} must be a decimal epoch number, got {text!r}")
    return int(text)


def page_limit(text: str | None) -> int:
    """``?limit=`` → a page size in ``1..MAX_PAGE_SIZE`` (default ``DEFAULT_PAGE_SIZE``)."""
    if text is None:
        return DEFAULT_PAGE_SIZE
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be an integer in 1..{MAX_PAGE_SIZE}, got {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page; pass ``next_cursor`` back as ``cursor`` for the next one (``None``: last page)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    """``GET /api/v1/status`` (ledger part)."""

    last_settled_epoch: int | None
    last_final_epoch: int | None
    finalized_epoch: int | None
    """The highest finalized checkpoint epoch the ledger was told about."""
    delegators: int
    reversed_epochs: int
    """Provisional epoch rows reversed by reorgs so far (kept in the audit trail)."""


@dataclass(frozen=True, slots=True)
class PoolTotals:
    """``GET /api/v1/pool``. ``rewards`` = Σ R = fees + bond + unassigned + distributed;
    ``distributed`` = credited to delegators (floored) + ``dust``."""

    pool_id: str
    delegators: int
    principal_gwei: FinalTotal
    rewards_gwei: FinalTotal
    fees_gwei: FinalTotal
    dust_gwei: FinalTotal
    distributed_gwei: FinalTotal
    last_settled_epoch: int | None
    last_final_epoch: int | None
    rewards_cl_gwei: FinalTotal
    rewards_el_gwei: FinalTotal
    """EL rewards known so far (epochs with unknown EL reward count 0 here)."""
    operator_bond_delta_gwei: FinalTotal
    """``operator_first``: what the operator bond absorbed (< 0) or got back (> 0), cumulated."""
    unassigned_gwei: FinalTotal
    """Rewards of epochs in which no delegator held weight (they belong to the operator)."""


@dataclass(frozen=True, slots=True)
class PoolEpoch:
    """One item of ``GET /api/v1/pool/epochs``: ``reward = fee + bond_delta + unassigned +
    distributed``."""

    epoch: int
    status: Status
    reward_cl_gwei: int
    reward_el_gwei: int | None
    """``None`` when the EL reward is unknown (no execution RPC)."""
    reward_gwei: int
    fee_gwei: int
    distributed_gwei: int
    total_weight_gwei: int
    delegators: int
    bond_delta_gwei: int
    unassigned_gwei: int
    merged: tuple[int, int] | None = None
    """``(first, last)`` epoch of the merged window this epoch is a share of (no node served the
    end states inside it any more); ``None``: settled from its own window."""


@dataclass(frozen=True, slots=True)
class ValidatorSummary:
    """One item of ``GET /api/v1/validators``: what the ledger holds for a pool validator."""

    validator_index: int
    first_epoch: int
    last_epoch: int
    reward_gwei: FinalTotal


@dataclass(frozen=True, slots=True)
class ValidatorEpoch:
    """One item of ``GET /api/v1/validators/{index}/epochs``."""

    epoch: int
    validator_index: int
    status: Status
    reward_gwei: int
    """The settlement r_v(k) = ΔB + withdrawals − deposits ± consolidations."""
    components_gwei: dict[str, int] | None
    """The explanation from the rewards endpoints; ``None`` when the node cannot explain."""
    residual_gwei: int | None
    attestation_included: bool | None
    proposals: int
    proposals_missed: int
    merged: tuple[int, int] | None = None
    """As ``PoolEpoch.merged``: this row is a share of a merged window's settlement."""


@dataclass(frozen=True, slots=True)
class DelegatorSummary:
    """One item of ``GET /api/v1/delegators``."""

    id: str
    principal_gwei: int
    accrued_gwei: FinalTotal


@dataclass(frozen=True, slots=True)
class DelegatorDetail:
    """``GET /api/v1/delegators/{id}``: ``claimable = accrued.final − paid`` (may be < 0 after a
    loss recognised after a payout)."""

    id: str
    principal_gwei: int
    """Weight in effect at the next epoch to settle."""
    accrued_gwei: FinalTotal
    paid_gwei: int
    claimable_gwei: int
    first_epoch: int | None
    """First epoch with weight > 0 (scheduled), ``None`` if it never had weight."""


@dataclass(frozen=True, slots=True)
class DelegatorEpoch:
    """One item of ``GET /api/v1/delegators/{id}/epochs``, derived from the accumulator on demand:
    ``credit = floor(accrued after k) − floor(accrued after k−1)`` so the credits add up exactly to
    the accrued figure."""

    epoch: int
    status: Status
    weight_gwei: int
    credit_gwei: int
    accrued_gwei: int
    merged: tuple[int, int] | None = None
    """As ``PoolEpoch.merged``: the epoch's figures are a share of a merged window's."""


@dataclass(frozen=True, slots=True)
class DelegationChange:
    """One journal line: from ``effective_epoch`` the delegator's weight is ``weight_gwei``."""

    delegator: str
    effective_epoch: int
    weight_gwei: int
    previous_weight_gwei: int
    source: str


@dataclass(frozen=True, slots=True)
class DelegationApplyResult:
    """What ``apply_delegations`` did (``POST /api/v1/delegations`` answers with it)."""

    effective_epoch: int
    changes: Sequence[DelegationChange]
    delegators: int
    """Delegators with weight > 0 at ``effective_epoch`` afterwards."""
    weight_before_gwei: int = 0
    """The pool's total weight at ``effective_epoch`` before the change."""
    weight_removed_gwei: int = 0
    """Σ over delegators of the weight the change takes away at ``effective_epoch`` (additions
    not netted: a set that swaps half the pool for newcomers still removes half)."""


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    """``POST /api/v1/payouts`` answers with it."""

    id: int
    delegator: str
    amount_gwei: int
    reference: str | None
    claimable_after_gwei: int
    recorded_at: str
