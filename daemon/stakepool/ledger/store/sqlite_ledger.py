"""``LedgerStore`` on the store's ``Database`` (SQLite or PostgreSQL; the name stayed): the async face of ``ledger_write``/``ledger_read`` over ``Database``.

Every write is one ``Database.write`` transaction (BEGIN IMMEDIATE … COMMIT): a crash in the
middle leaves the previous epoch intact. The pool's dust needs every delegator's floored accrual:
``credited.CreditedTotals`` keeps what it can of them between epochs, so a new epoch costs one pass
over two in-memory lists and a delegation change only its delegators (a first build reads every
schedule once). ``pool_totals()`` brings it up to date on a separate read-only connection in a
worker thread (WAL lets it read a consistent snapshot beside the writer; on PostgreSQL a second
session in one REPEATABLE READ snapshot), so it never holds up the database thread that settles
epochs and answers the other queries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from stakepool.chain.clock import ChainClock
from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import (
    DelegationApplyResult,
    DelegationChange,
    DelegatorDetail,
    DelegatorEpoch,
    DelegatorSummary,
    EpochRange,
    FinalTotal,
    LedgerStatus,
    Page,
    PayoutRecord,
    PoolEpoch,
    PoolTotals,
    ValidatorEpoch,
    ValidatorSummary,
)
from stakepool.ledger.rollup import DayRow
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.statement_queries import (
    CommittedHook,
    DelegatorProof,
    DelegatorStatement,
    PeriodCommitment,
)
from stakepool.ledger.store import (
    delegations_sql,
    ledger_read,
    ledger_write,
    rollup_sql,
    statements_sql,
)
from stakepool.ledger.store.bounds import FinalPoolSums, PoolSums
from stakepool.ledger.store.credited import CreditedTotals
from stakepool.ledger.store.interface import (
    FinalizedHook,
    LedgerStore,
    ReversedHook,
    SettledHook,
    SettleResult,
)
from stakepool.ledger.store.ledger_sql import delegator_exists, last_epochs
from stakepool.ledger.store.prepared_epoch import prepare
from stakepool.store import outbox
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from stakepool.store.outbox_event import OutboxEvent
from stakepool.store.replicas import Reads

DEFAULT_PERIOD_EPOCHS = 225
"""``[ledger] statement_period_epochs``: one mainnet day."""


class SqliteLedgerStore:
    """The ledger on one ``Database``, either engine (see ``interface.LedgerStore``)."""

    def __init__(
        self,
        db: Database,
        *,
        pool_id: str,
        policy: LedgerPolicy,
        outbox_max_rows: int = ledger_write.DEFAULT_OUTBOX_MAX_ROWS,
        period_epochs: int = DEFAULT_PERIOD_EPOCHS,
        reads: Reads | None = None,
    ) -> None:
        self.db = db
        self.reads: Reads = db if reads is None else reads
        """Where the read methods go: ``db``, or its replicas for the HTTP API
        (``reading_from``); writes, and every read inside one, always go to ``db``."""
        self.pool_id = pool_id
        self.policy = policy
        self.period_epochs = period_epochs
        self.outbox_max_rows = outbox_max_rows
        self._credited = CreditedTotals()
        self._credited_mutex = threading.Lock()
        """The database thread and the worker thread both bring ``_credited`` up to date."""
        self._credited_lock = asyncio.Lock()
        self._last_totals: PoolTotals | None = None
        self._final_pool_sums: FinalPoolSums | None = None
        """The pool's bound over the final epochs, as the last committed settle read it."""

    def reading_from(self, reads: Reads) -> SqliteLedgerStore:
        """The same ledger, its reads served by ``reads`` (``store/replicas.ReadReplicas``): the
        HTTP API's and web pages' store. Its writes still go to this store's database."""
        return SqliteLedgerStore(
            self.db,
            pool_id=self.pool_id,
            policy=self.policy,
            outbox_max_rows=self.outbox_max_rows,
            period_epochs=self.period_epochs,
            reads=reads,
        )

    # --- writes ----------------------------------------------------------------------------------

    async def settle(
        self, inp: EpochSettlementInput, *, events: SettledHook | None = None
    ) -> SettleResult:
        # The CPU that needs no database off the writer (and off the event loop).
        prepared = await asyncio.to_thread(prepare, inp, self.db.dialect.name)
        pool = PoolSums(self._final_pool_sums)
        result = await self.db.write(
            lambda c: ledger_write.settle(
                c,
                inp,
                self.policy,
                events=events,
                outbox_max_rows=self.outbox_max_rows,
                prepared=prepared,
                pool_sums=pool,
            )
        )
        self._keep_pool_sums(pool)
        return result

    def _keep_pool_sums(self, pool: PoolSums) -> None:
        """What a committed settle read of the final epochs' pool sums (each transaction has its
        own ``PoolSums``: a settle that failed, or one still running, leaves this alone)."""
        if pool.final is not None:
            self._final_pool_sums = pool.final

    async def settle_span(
        self,
        inputs: Sequence[EpochSettlementInput],
        *,
        events: SettledHook | None = None,
        span_events: Sequence[OutboxEvent] = (),
    ) -> list[SettleResult]:
        """A merged window's epochs in one transaction, with its warning events: a kill leaves
        the span settled whole or not at all."""
        engine = self.db.dialect.name
        prepared = await asyncio.to_thread(lambda: [prepare(inp, engine) for inp in inputs])
        pool = PoolSums(self._final_pool_sums)

        def write(c: Connection) -> list[SettleResult]:
            results = [
                ledger_write.settle(
                    c,
                    p.input,
                    self.policy,
                    events=events,
                    outbox_max_rows=self.outbox_max_rows,
                    prepared=p,
                    pool_sums=pool,
                )
                for p in prepared
            ]
            if span_events:
                outbox.enqueue(c, span_events, max_rows=self.outbox_max_rows)
            return results

        results = await self.db.write(write)
        self._keep_pool_sums(pool)
        return results

    async def finalize(
        self,
        finalized_epoch: int,
        *,
        events: FinalizedHook | None = None,
        commitments: CommittedHook | None = None,
    ) -> list[int]:
        def run(c: Connection) -> list[int]:
            epochs = ledger_write.finalize(
                c, finalized_epoch, events=events, outbox_max_rows=self.outbox_max_rows
            )
            statements_sql.commit_final_periods(
                c, self.period_epochs, events=commitments, outbox_max_rows=self.outbox_max_rows
            )
            return epochs

        return await self.db.write(run)

    async def set_clock(self, clock: ChainClock) -> None:
        """The chain's clock, for the statements' UTC times and monthly roll-ups."""
        await self.db.write(lambda c: statements_sql.set_clock(c, clock))

    async def revert_from(
        self, epoch: int, *, reason: str, events: ReversedHook | None = None
    ) -> list[int]:
        return await self.db.write(
            lambda c: ledger_write.revert_from(
                c, epoch, reason=reason, events=events, outbox_max_rows=self.outbox_max_rows
            )
        )

    async def apply_delegations(
        self,
        delegations: DelegationSet,
        *,
        effective_epoch: int | None = None,
        replace_all: bool = True,
        spare_source: str | None = None,
    ) -> DelegationApplyResult:
        return await self.db.write(
            lambda c: delegations_sql.apply_delegations(
                c,
                delegations,
                effective_epoch=effective_epoch,
                replace_all=replace_all,
                spare_source=spare_source,
            )
        )

    async def preview_delegations(
        self,
        delegations: DelegationSet,
        *,
        effective_epoch: int | None = None,
        replace_all: bool = True,
        spare_source: str | None = None,
    ) -> DelegationApplyResult:
        try:
            await self.db.write(
                lambda c: delegations_sql.preview_delegations(
                    c,
                    delegations,
                    effective_epoch=effective_epoch,
                    replace_all=replace_all,
                    spare_source=spare_source,
                )
            )
        except delegations_sql.Preview as preview:
            return preview.result
        raise AssertionError("preview_delegations always raises Preview")  # pragma: no cover

    async def record_payout(
        self, delegator_id: str, amount_gwei: int, *, reference: str | None = None
    ) -> PayoutRecord:
        return await self.db.write(
            lambda c: ledger_write.record_payout(c, delegator_id, amount_gwei, reference=reference)
        )

    # --- reads -----------------------------------------------------------------------------------

    async def status(self) -> LedgerStatus:
        return await self.reads.read(ledger_read.status)

    def credited_passes(self) -> int:
        """How many times the pool's totals read every delegator's schedule (a benchmark's and a
        test's figure: once at the first answer, then only after a change of most delegators)."""
        return self._credited.full_passes

    def _credited_at(self, conn: Connection) -> FinalTotal:
        with self._credited_mutex:
            return self._credited.refresh(conn)

    def _pool_totals(self, conn: Connection) -> PoolTotals:
        # Up to date already (the worker thread's refresh) unless an epoch settled since.
        return ledger_read.pool_totals(conn, self.pool_id, self._credited_at(conn))

    async def pool_totals(self) -> PoolTotals:
        """While another caller brings the totals up to date (after an epoch settled, a pass
        over every delegator's entry; after a new file, over every schedule), the last complete
        answer: consistent in itself, its ``last_settled_epoch`` says which epoch it is of."""
        if self.db.path == ":memory:":
            return await self.reads.read(self._pool_totals)
        if self._credited_lock.locked() and self._last_totals is not None:
            return self._last_totals
        async with self._credited_lock:
            await asyncio.to_thread(self.reads.snapshot_sync, self._credited_at)
            self._last_totals = await self.reads.read(self._pool_totals)
            return self._last_totals

    def pool_totals_sync(self) -> PoolTotals:
        return self.db.read_sync(self._pool_totals)

    async def pool_epochs(self, epochs: EpochRange) -> list[PoolEpoch]:
        return await self.reads.read(lambda c: ledger_read.pool_epochs(c, epochs))

    async def validators(self) -> list[ValidatorSummary]:
        return await self.reads.read(ledger_read.validators)

    async def validator_epochs(
        self, validator_index: int, epochs: EpochRange
    ) -> list[ValidatorEpoch]:
        return await self.reads.read(
            lambda c: ledger_read.validator_epochs(c, validator_index, epochs)
        )

    async def validator_days(self, validator_index: int | None, epochs: EpochRange) -> list[DayRow]:
        """Roll-ups (day resolution) overlapping ``epochs`` whose per-epoch detail was pruned
        (``ledger/retention``); one validator, or every one (``None``)."""

        def read(conn: Connection) -> list[DayRow]:
            bounds = epochs.resolve(last_epochs(conn)[1])
            return [] if bounds is None else rollup_sql.day_rows(conn, validator_index, *bounds)

        return await self.reads.read(read)

    async def delegators(
        self, *, cursor: str | None = None, limit: int = 100
    ) -> Page[DelegatorSummary]:
        return await self.reads.read(
            lambda c: ledger_read.delegators(c, cursor=cursor, limit=limit)
        )

    async def delegator(self, delegator_id: str) -> DelegatorDetail | None:
        return await self.reads.read(lambda c: ledger_read.delegator(c, delegator_id))

    async def delegator_epochs(
        self, delegator_id: str, epochs: EpochRange
    ) -> list[DelegatorEpoch] | None:
        return await self.reads.read(
            lambda c: ledger_read.delegator_epochs(c, delegator_id, epochs)
        )

    async def delegation_journal(
        self, *, delegator_id: str | None = None, limit: int = 100
    ) -> list[DelegationChange]:
        return await self.reads.read(
            lambda c: ledger_read.delegation_journal(c, delegator_id=delegator_id, limit=limit)
        )

    # --- statements and commitments ----------------------------------------------------------------

    async def statements(
        self, delegator_id: str, from_period: int | None, to_period: int | None
    ) -> list[DelegatorStatement] | None:
        def run(c: Connection) -> list[DelegatorStatement] | None:
            if not delegator_exists(c, delegator_id):
                return None
            return statements_sql.delegator_statements(
                c, delegator_id, self.period_epochs, from_period, to_period
            )

        return await self.reads.read(run)

    async def month_statement(
        self, delegator_id: str, year: int, month: int
    ) -> DelegatorStatement | None:
        return await self.reads.read(
            lambda c: statements_sql.month_statement(
                c, delegator_id, self.period_epochs, year, month
            )
        )

    async def commitments(self, from_period: int, to_period: int) -> list[PeriodCommitment]:
        return await self.reads.read(
            lambda c: statements_sql.commitments(c, self.period_epochs, from_period, to_period)
        )

    async def proof(self, delegator_id: str, period: int) -> DelegatorProof | None:
        return await self.reads.read(
            lambda c: statements_sql.proof(c, delegator_id, self.period_epochs, period)
        )


def open_ledger(
    path: str,
    *,
    pool_id: str,
    policy: LedgerPolicy,
    period_epochs: int = DEFAULT_PERIOD_EPOCHS,
    password: str | None = None,
) -> SqliteLedgerStore:
    """Open (and migrate) the ledger at ``path``: a SQLite file or a ``postgresql://`` URL."""
    return SqliteLedgerStore(
        Database.open(path, password=password),
        pool_id=pool_id,
        policy=policy,
        period_epochs=period_epochs,
    )


def _conforms(store: SqliteLedgerStore) -> LedgerStore:
    return store  # mypy proves the SQLite store implements the whole interface
