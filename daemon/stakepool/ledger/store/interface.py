"""The ledger store interface: what the daemon, the HTTP API and the CLI use.

``sqlite_ledger.SqliteLedgerStore`` implements it on the store's ``Database``, SQLite or PostgreSQL
(the SQL is written once for both: ``store/engine.py``). Every write is one transaction; the ``events`` hooks return outbox events
that are enqueued in that same transaction (``stakepool.store.outbox.enqueue``), so a
settled epoch and its ``epoch_settled`` event are saved together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.queries import (
    DelegationApplyResult,
    DelegationChange,
    DelegatorDetail,
    DelegatorEpoch,
    DelegatorSummary,
    EpochRange,
    LedgerStatus,
    Page,
    PayoutRecord,
    PoolEpoch,
    PoolTotals,
    ValidatorEpoch,
    ValidatorSummary,
)
from stakepool.ledger.rollup import DayRow
from stakepool.ledger.settlement import EpochSettlement, EpochSettlementInput
from stakepool.ledger.statement_queries import (
    CommittedHook,
    DelegatorProof,
    DelegatorStatement,
    PeriodCommitment,
)
from stakepool.store.outbox_event import OutboxEvent


class LedgerError(Exception):
    """A ledger operation refused (the ledger is unchanged); the message says why."""


class FinalRowError(LedgerError):
    """An attempt to change a final row: a finalized reorg, i.e. a consensus failure. Alert and
    halt payouts; never silently overwrite."""


class PayoutError(LedgerError):
    """A payout that would pay more than the delegator's claimable final amount (or is invalid)."""


SettledHook = Callable[[EpochSettlement], Sequence[OutboxEvent]]
FinalizedHook = Callable[[Sequence[int]], Sequence[OutboxEvent]]
ReversedHook = Callable[[Sequence[int]], Sequence[OutboxEvent]]


@dataclass(frozen=True, slots=True)
class SettleResult:
    settlement: EpochSettlement
    replayed: bool
    """True when the epoch was already settled from the same input digest (nothing written)."""
    reversed_epochs: tuple[int, ...] = ()
    """Provisional epochs reversed first because the input for this epoch changed (reorg)."""
    explained: bool = False
    """A late explanation was stored on the epoch's rows (``replayed`` too: no money moved)."""


class LedgerReader(Protocol):
    """Reads for the HTTP API (``api`` helper), the CLI export and the metrics."""

    async def status(self) -> LedgerStatus: ...

    async def pool_totals(self) -> PoolTotals: ...

    async def pool_epochs(self, epochs: EpochRange) -> list[PoolEpoch]: ...

    async def validators(self) -> list[ValidatorSummary]: ...

    async def validator_epochs(
        self, validator_index: int, epochs: EpochRange
    ) -> list[ValidatorEpoch]: ...

    async def validator_days(
        self, validator_index: int | None, epochs: EpochRange
    ) -> list[DayRow]: ...

    async def delegators(
        self, *, cursor: str | None = None, limit: int = 100
    ) -> Page[DelegatorSummary]: ...

    async def delegator(self, delegator_id: str) -> DelegatorDetail | None:
        """``None``: unknown delegator (404)."""
        ...

    async def delegator_epochs(
        self, delegator_id: str, epochs: EpochRange
    ) -> list[DelegatorEpoch] | None:
        """``None``: unknown delegator (404)."""
        ...

    async def delegation_journal(
        self, *, delegator_id: str | None = None, limit: int = 100
    ) -> list[DelegationChange]: ...


class LedgerWriter(Protocol):
    """Writes: the daemon (settle/finalize/reorg), the delegations watcher and the HTTP API."""

    async def apply_delegations(
        self,
        delegations: DelegationSet,
        *,
        effective_epoch: int | None = None,
        replace_all: bool = True,
        spare_source: str | None = None,
    ) -> DelegationApplyResult:
        """Apply a whole validated set from ``effective_epoch`` (default and minimum: the next epoch
        to settle). ``replace_all``: delegators absent from the set drop to weight 0 (a file);
        otherwise only the listed delegators' schedules are replaced (an API call). Journaled.
        ``spare_source`` (with ``replace_all``): absent delegators whose latest journaled change
        came from that source are left alone (the file never wipes what the API set)."""
        ...

    async def preview_delegations(
        self,
        delegations: DelegationSet,
        *,
        effective_epoch: int | None = None,
        replace_all: bool = True,
        spare_source: str | None = None,
    ) -> DelegationApplyResult:
        """What ``apply_delegations`` would do with the same arguments; nothing is written."""
        ...

    async def record_payout(
        self, delegator_id: str, amount_gwei: int, *, reference: str | None = None
    ) -> PayoutRecord:
        """Raises ``PayoutError`` if ``amount_gwei`` exceeds claimable (accrued final − paid)."""
        ...

    async def settle(
        self, inp: EpochSettlementInput, *, events: SettledHook | None = None
    ) -> SettleResult:
        """Settle the next epoch (provisional), one transaction keyed by epoch. Same digest again:
        no-op. A different digest for a provisional epoch: reverse from it (reorg), then settle."""
        ...

    async def finalize(
        self,
        finalized_epoch: int,
        *,
        events: FinalizedHook | None = None,
        commitments: CommittedHook | None = None,
    ) -> list[int]:
        """Mark epochs ``k <= finalized_epoch − 1`` final; returns the epochs that became final.
        In the same transaction, every period whose last epoch is now final is committed (its
        statements' Merkle root stored, ``commitments`` building its outbox events)."""
        ...

    async def revert_from(
        self, epoch: int, *, reason: str, events: ReversedHook | None = None
    ) -> list[int]:
        """Reorg: reverse every provisional epoch ``>= epoch`` (kept in the audit trail) so they
        can be settled again on the new canonical chain. ``FinalRowError`` if one is final."""
        ...


class StatementReader(Protocol):
    """Delegator statements, period commitments and proofs (``ledger/statements.py``)."""

    period_epochs: int

    async def statements(
        self, delegator_id: str, from_period: int | None, to_period: int | None
    ) -> list[DelegatorStatement] | None:
        """The delegator's statements of the closed periods in range; ``None``: unknown (404)."""
        ...

    async def month_statement(
        self, delegator_id: str, year: int, month: int
    ) -> DelegatorStatement | None: ...

    async def commitments(self, from_period: int, to_period: int) -> list[PeriodCommitment]: ...

    async def proof(self, delegator_id: str, period: int) -> DelegatorProof | None: ...


class LedgerStore(LedgerReader, LedgerWriter, StatementReader, Protocol):
    """The whole store."""
