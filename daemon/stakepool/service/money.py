"""The money path of the daemon: rewards windows → ledger → API, metrics, outbox, console.

``supervisor.Supervisor`` owns the tasks; this object owns the parts between the beacon client
and the ledger store so the supervisor stays readable:

* at start-up (before the chain is known): the ``LedgerService`` on the daemon's one database and
  the HTTP API over its store (served while the daemon waits for a beacon node);
* once the spec is known: the rewards fetcher/tracker (and the optional EL client) and the feed;
* per closed epoch (from the epoch worker, after the monitor): finality, then settlement;
* per ``chain_reorg``: the feed's dirty mark; and the delegations-file watcher as a task.

The monitor's duty outcomes reach the ledger by one path: ``duties.write`` runs in the monitor's
save transaction (a ``MonitorKeeper`` participant), so the rows settled after a kill have them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import ChainReorgEvent
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings
from stakepool.execution.client import ExecutionClient, execution_client
from stakepool.ledger.facts import LedgerReport
from stakepool.ledger.feed import DUTIES_KEY, DutyMemory, LedgerFeed
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.publish.api import LedgerApi
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.service.clients import beacon_client
from stakepool.store.database import Database
from stakepool.store.errors import DatabaseUnavailable
from stakepool.store.writer import NotWriterError

log = structlog.get_logger(__name__)

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
        active: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.active = active
        """``store/writer.py``: only the ledger's writer settles; a standby that takes over
        resumes from the database (its next unsettled epoch)."""
        kwargs = {} if outbox_max_rows is None else {"outbox_max_rows": outbox_max_rows}
        store = SqliteLedgerStore(
            db,
            pool_id=settings.pool.id,
            policy=settings.pool.policy(),
            period_epochs=settings.ledger.statement_period_epochs,
            **kwargs,
        )
        self.bus = bus
        self.ledger = LedgerService(
            store,
            bus,
            delegations_file=settings.pool.delegations_file,
            delegations_guard=settings.pool.delegations_guard(),
            events=outbox_max_rows is not None,
        )
        self.api = LedgerApi(
            store, pool_id=settings.pool.id, token=settings.http.token, gate=self.ledger.gate
        )
        self.feed: LedgerFeed | None = None
        self.duties = DutyMemory()
        """The monitor's verdicts for rows not settled yet; ``duties.write`` is a
        ``MonitorKeeper.digest_writers`` hook so they survive a kill (see ``DutyMemory``)."""
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
            client, spec, execution=self._execution, fee_recipients=execution.fee_recipients
        )
        kept = await self.ledger.store.db.view(lambda unit: unit.kept(DUTIES_KEY))
        if kept is not None:
            self.duties.restore(kept)
        archive = None
        if self.settings.beacon.archive_urls:
            self._archive = beacon_client(self.settings, self.settings.beacon.archive_urls)
            archive = RewardsTracker(
                RewardsFetcher(
                    self._archive,
                    spec,
                    execution=self._execution,
                    fee_recipients=execution.fee_recipients,
                ),
                pool,
            )
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
        with contextlib.suppress(NotWriterError):  # a standby: the writer has set it
            await self.ledger.store.set_clock(spec.clock())
        await self.ledger.refresh_totals()

    async def close(self) -> None:
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
        try:
            await self.feed.on_finalized(finalized_epoch)
            written = await self.feed.on_epoch_closed(epoch)
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
        if written and self.bus.wants(LedgerReport):
            self.bus.publish(await self._report(tuple(written)))
        return written

    async def watch_delegations(self, next_boundary: Callable[[], int | None]) -> None:
        await self.ledger.watch_delegations(next_boundary)

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
