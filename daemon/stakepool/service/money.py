"""The money path of the daemon: rewards windows → ledger → API, metrics, outbox, console.

``supervisor.Supervisor`` owns the tasks; this object owns the parts between the beacon client
and the ledger store so the supervisor stays readable:

* at start-up (before the chain is known): the ``LedgerService`` on the daemon's one database and
  the HTTP API over its store (served while the daemon waits for a beacon node);
* once the spec is known: the rewards fetcher/tracker (and the optional EL client) and the feed;
* per closed epoch (from the epoch worker, after the monitor): finality, then settlement; a
  write refused for lack of space pauses settlement (``pause``) until the disk has room again;
* per ``chain_reorg``: the feed's dirty mark; and the delegations-file watcher as a task.

The monitor's duty outcomes reach the ledger by one path: ``duties.write`` runs in the monitor's
save transaction (a ``MonitorKeeper`` participant), so the rows settled after a kill have them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import ChainReorgEvent
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings
from stakepool.execution.client import ExecutionClient, execution_client
from stakepool.ledger.duty_memory import DUTIES_KEY, DutyMemory
from stakepool.ledger.facts import LedgerReport
from stakepool.ledger.feed import LedgerFeed
from stakepool.ledger.pause import ROOM_TO_RESUME, SettlementPause
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.retention import Retention, RetentionPolicy
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.interface import LedgerError
from stakepool.ledger.store.ledger_write import DEFAULT_OUTBOX_MAX_ROWS
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.publish.api import LedgerApi
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.known_states import KnownStates
from stakepool.rewards.plausibility_check import ImplausibleSettlement
from stakepool.rewards.tracker import RewardsTracker
from stakepool.service import collector
from stakepool.service.clients import beacon_client
from stakepool.service.event_sink import EventSink, implausible_event
from stakepool.store import disk
from stakepool.store.database import STORE_ERRORS, Database, OutOfSpace
from stakepool.store.errors import DatabaseUnavailable
from stakepool.store.replicas import Reads
from stakepool.store.writer import NotWriterError

log = structlog.get_logger(__name__)

RETENTION_ERRORS: tuple[type[Exception], ...] = (*STORE_ERRORS, LedgerError)
"""A roll-up run that failed is logged and tried again at the next close."""

TOP_DELEGATORS = 5
_TOP_SCAN_LIMIT = 1000
"""The console's top-N table reads one page; a pool with more delegators shows the first page's top."""


class MoneyPath:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: EventBus,
        *,
        outbox_max_rows: int | None,
        events: EventSink | None = None,
        active: Callable[[], bool] | None = None,
        reads: Reads | None = None,
    ) -> None:
        self.settings = settings
        self.events = events
        """Where a refused (implausible) window's ``rewards_implausible`` event is raised."""
        self.before_finalize: Callable[[int], Awaitable[None]] | None = None
        """Told the finalized epoch before the ledger flips rows final (the witness settles its
        disagreements there, while the rows can still be corrected)."""
        self.active = active
        """``store/writer.py``: only the ledger's writer settles; a standby that takes over
        resumes from the database (its next unsettled epoch)."""
        store = SqliteLedgerStore(
            db,
            pool_id=settings.pool.id,
            policy=settings.pool.policy(),
            period_epochs=settings.ledger.statement_period_epochs,
            outbox_max_rows=DEFAULT_OUTBOX_MAX_ROWS if outbox_max_rows is None else outbox_max_rows,
        )
        self.bus = bus
        self.ledger = LedgerService(
            store,
            bus,
            delegations_file=settings.pool.delegations_file,
            delegations_guard=settings.pool.delegations_guard(),
            events=outbox_max_rows is not None,
        )
        # The API and the web pages read from the replicas when there are some; everything this
        # path writes (and reads to write) goes through ``store``, on the primary.
        self.api = LedgerApi(
            store if reads is None else store.reading_from(reads),
            pool_id=settings.pool.id,
            token=settings.http.token,
            gate=self.ledger.gate,
        )
        self.feed: LedgerFeed | None = None
        self.known_states = KnownStates()
        """The pool's records at the states the epoch report read (by root), which the primary
        node's windows take for their ends instead of reading them again (``rewards/known_states``)."""
        self.duties = DutyMemory()
        """The monitor's verdicts for rows not settled yet; ``duties.write`` is a
        ``MonitorKeeper.digest_writers`` hook so they survive a kill (see ``DutyMemory``)."""
        self.pause = SettlementPause(bus.publish)
        """Settlement waiting for room on a full disk (``ledger/pause``)."""
        self.last_closed: tuple[int, int] | None = None
        """The last closed epoch and its finalized epoch handed here (tried again while paused)."""
        self.retention: Retention | None = None
        self._retaining: asyncio.Task[list[int]] | None = None
        self._execution: ExecutionClient | None = None
        self._archive: BeaconClient | None = None
        self._spec: ChainSpec | None = None

    async def start(
        self, client: BeaconClient, spec: ChainSpec, pool: Callable[[], list[int]]
    ) -> None:
        execution = self.settings.execution
        self._execution = execution_client(
            execution.url,
            execution.timeout_seconds,
            execution.auth.get_secret_value() if execution.auth is not None else None,
        )
        fetcher = RewardsFetcher(
            client,
            spec,
            execution=self._execution,
            fee_recipients=execution.fee_recipients,
            known=self.known_states,
        )
        if self.events is not None:
            fetcher.on_refused = self._refused
        kept = await self.ledger.store.db.view(lambda unit: unit.kept(DUTIES_KEY))
        if kept is not None:
            self.duties.restore(kept)
        archive = None
        if self.settings.beacon.archive_urls:
            self._archive = beacon_client(self.settings, self.settings.beacon.archive_urls)
            archived = RewardsFetcher(
                self._archive,
                spec,
                execution=self._execution,
                fee_recipients=execution.fee_recipients,
            )
            if self.events is not None:
                archived.on_refused = self._refused
            archive = RewardsTracker(archived, pool)
        slot = spec.slot_duration_ms / 1000
        self.feed = LedgerFeed(
            RewardsTracker(fetcher, pool),
            self.ledger,
            self.duties,
            # Retries of a window read end within the epoch: the next close reads again.
            retry_delays=(slot / 8, slot / 4, slot / 2),
            archive=archive,
        )
        self._spec = spec
        ledger = self.settings.ledger
        epoch_seconds = spec.slots_per_epoch * spec.slot_duration_ms / 1000
        self.retention = Retention(
            self.ledger.store.db,
            RetentionPolicy(
                period_epochs=ledger.statement_period_epochs,
                detail_epochs=ledger.validator_detail_epochs,
                daily_days=ledger.validator_daily_days,
                epochs_per_day=max(1, int(86400 // epoch_seconds)),
            ),
        )
        with contextlib.suppress(NotWriterError):  # a standby: the writer has set it
            await self.ledger.store.set_clock(spec.clock())
        await self.ledger.refresh_totals()

    async def correct_epoch(
        self, client: BeaconClient, epoch: int, indices: list[int]
    ) -> list[int]:
        """Settle ``epoch`` again from ``client``'s node (the witness, shown right at finality):
        the window read whole there (balances, withdrawals, deposits, explanation; EL rewards as
        configured), with the monitor's verdicts. Returns the epochs written again;
        ``FinalRowError`` if ``epoch`` is final already."""
        assert self.feed is not None
        assert self._spec is not None
        execution = self.settings.execution
        fetcher = RewardsFetcher(
            client, self._spec, execution=self._execution, fee_recipients=execution.fee_recipients
        )
        window = await fetcher.epoch(epoch, indices)
        return await self.feed.correct(window)

    async def _refused(self, refused: ImplausibleSettlement, node: str | None) -> None:
        """A window refused for balances the protocol cannot produce: its event (no state is
        written: the window is read again, from another node or at the next close)."""
        assert self.events is not None
        await self.events.emit([implausible_event(refused, node)])

    async def close(self) -> None:
        if self._retaining is not None:
            self._retaining.cancel()
            with contextlib.suppress(asyncio.CancelledError, *STORE_ERRORS):
                await self._retaining
        if self._execution is not None:
            await self._execution.close()
        if self._archive is not None:
            await self._archive.close()

    # --- hooks -----------------------------------------------------------------------------------

    def on_reorg(self, event: ChainReorgEvent) -> None:
        if self.feed is None or self._spec is None:
            return
        first_slot = max(0, int(event.slot) - int(event.depth))
        self.feed.on_reorg(first_slot // self._spec.slots_per_epoch)

    async def on_epoch_closed(self, epoch: int, finalized_epoch: int) -> list[int]:
        """Finality first (so a window settled now can be final at once), then settlement."""
        if self.feed is None or (self.active is not None and not self.active()):
            return []
        self.last_closed = (epoch, finalized_epoch)
        try:
            if self.before_finalize is not None:
                await self.before_finalize(finalized_epoch)
            await self.feed.on_finalized(finalized_epoch)
            written = await self.feed.on_epoch_closed(epoch)
            # Settled only now although finality covers them (their window failed at an earlier
            # close): final now, not at a next close that may never come (a halt). One still
            # waiting for its explanation is final too: the explanation, when it comes, is stored
            # on the final row with its digest (migration 0010), as an undisturbed run has it.
            upto = finalized_epoch
            if any(e < upto for e in written):  # epoch k is final once finalized >= k + 1
                if self.before_finalize is not None:
                    await self.before_finalize(upto)
                await self.feed.on_finalized(upto)
                await self.feed.ledger.refresh_totals()
        except OutOfSpace as exc:
            # Rolled back whole; the next try settles from the ledger's last settled epoch.
            self.pause.refused(epoch, str(exc.__cause__ or exc))
            return []
        except NotWriterError as exc:
            # Woken after losing the writer's lock (paused, cut off): the fence refused the
            # write, nothing was written; the standby that took over settles this epoch.
            log.warning("ledger_write_fenced", epoch=epoch, error=str(exc))
            return []
        except DatabaseUnavailable as exc:
            # PostgreSQL's session was lost mid-epoch: nothing of it committed; the next close
            # settles from the database's last committed epoch (or a standby does).
            log.warning("ledger_database_unavailable", epoch=epoch, error=str(exc))
            return []
        self.pause.committed(epoch)
        self._retain()
        if written and self.bus.wants(LedgerReport):
            self.bus.publish(await self._report(tuple(written)))
        return written

    def _retain(self) -> None:
        """Roll-ups and prunes due after this close, beside the epoch worker (short transactions
        of their own: ``ledger/retention``); one run at a time, a failure logged and retried at
        the next close."""
        if self.retention is None or (self._retaining is not None and not self._retaining.done()):
            return
        self._retaining = asyncio.create_task(self._run_retention(self.retention), name="retention")

    async def _run_retention(self, retention: Retention) -> list[int]:
        try:
            return await retention.run()
        except RETENTION_ERRORS as exc:
            log.warning("validator_retention_failed", error=str(exc), hint="tried again next epoch")
            return []

    @property
    def behind(self) -> bool:
        """The last close (or try) left epochs it should have settled unsettled, or settled
        rows still waiting for their explanation: worth another try before the next close, which
        may never come (a halted chain)."""
        return (
            self.feed is not None
            and (self.feed.behind or bool(self.feed.explanation_pending()))
            and self.last_closed is not None
            and (self.active is None or self.active())
        )

    async def retry_between_closes(self) -> list[int]:
        """The close's settlement tried again when it fell short, else the explanations still
        owed asked once more; the epochs written."""
        assert self.feed is not None
        if self.feed.behind and self.last_closed is not None:
            return await self.on_epoch_closed(*self.last_closed)
        try:
            await self.feed.explain_pending()
        except (OutOfSpace, NotWriterError, DatabaseUnavailable, LedgerError) as exc:
            # Nothing of it committed; the next try or the next close asks again.
            log.warning("ledger_late_explanation_failed", error=str(exc))
        return []

    async def room_to_resume(self) -> bool:
        """While paused: whether the database's filesystem has room for a try before the next
        epoch closes (``statvfs``, off the loop)."""
        db = self.ledger.store.db
        if not db.is_file:  # in memory, or a server's disk: the next try tells
            return True
        path = db.path
        try:
            figures = await asyncio.to_thread(disk.figures, path)
        except OSError:
            return False
        return figures.filesystem_free_bytes >= ROOM_TO_RESUME

    async def watch_delegations(self, next_boundary: Callable[[], int | None]) -> None:
        # A big file is parsed and applied in one go: no full collection in the middle of it.
        await self.ledger.watch_delegations(next_boundary, quiet=collector.without_full_collection)

    async def _report(self, epochs: tuple[int, ...]) -> LedgerReport:
        store = self.ledger.store
        rows = await store.pool_epochs(EpochRange(min(epochs), max(epochs)))
        totals = await store.pool_totals()
        page = await store.delegators(cursor=None, limit=_TOP_SCAN_LIMIT)
        top = sorted(page.items, key=lambda d: (-d.accrued_gwei.total, d.id))[:TOP_DELEGATORS]
        wanted = set(epochs)
        return LedgerReport(tuple(r for r in rows if r.epoch in wanted), totals, tuple(top))


def open_ledger_service(settings: Settings, bus: EventBus | None = None) -> LedgerService:
    """The ledger on its own database, as ``stakepool`` tools outside the daemon use it."""
    store = open_ledger(
        settings.ledger.resolved_database(),
        pool_id=settings.pool.id,
        policy=settings.pool.policy(),
        period_epochs=settings.ledger.statement_period_epochs,
        password=settings.ledger.database_password(),
    )
    return LedgerService(
        store,
        bus,
        delegations_file=settings.pool.delegations_file,
        delegations_guard=settings.pool.delegations_guard(),
    )
