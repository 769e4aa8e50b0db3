"""The supervisor: owns every task of the daemon, stops cleanly on SIGTERM/SIGINT.

Handed its parts built (``service.root.run_daemon``), it builds the duty monitor (needs the spec).
One ``asyncio.TaskGroup`` owns the loops: HTTP (``/metrics``, ``/healthz``, ``/readyz``), the loop
lag and disk watches, start-up, then the head follower and the epoch worker, which both feed the
duty monitor (``monitor.service``): stream events as they come, each closed epoch after its report.
The database (``[ledger] database``) is shared: the monitor saves its state there after every
epoch, in the same transaction as the ledger's duty outcomes (its keeper's one participant), and
resumes from it after a restart; the ledger settles each epoch there one epoch behind the head;
the MQTT publisher drains its outbox. What happens is told on the event bus
(``Started``, the head, each ``EpochReport``; the monitor and the ledger publish their own), where
the faces subscribed. The sd_notify task runs in the same task group; the MQTT publisher beside
it, so a stop can deliver what the producers committed before it says ``offline``.
Each loop retries its own transient errors (a beacon node down, a malformed answer: retried within
the epoch, then logged once and carried on, ``epoch_steps``; a full disk pauses settlement only,
``service/between_closes``); only a fatal error (no such chain, the database cannot be opened, the HTTP
port cannot be bound) escapes and stops the daemon with exit code 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, WrongChain
from stakepool.beacon.models import ChainReorgEvent, FinalizedCheckpointEvent, HeadEvent, Topic
from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.beacon.stream import EventStream
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.config import Settings
from stakepool.ledger.store.interface import LedgerError
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadTracker
from stakepool.monitor.keeper import MonitorKeeper, chain_key
from stakepool.monitor.pool import PoolMember
from stakepool.monitor.service import MonitorService
from stakepool.publish.beacon_metrics import no_node_answers
from stakepool.publish.disk_metrics import watch_disk
from stakepool.publish.http import HttpServer
from stakepool.publish.loop_lag import monitor_loop_lag
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import EventPublisher
from stakepool.publish.sdnotify import SystemdReporter
from stakepool.service import collector
from stakepool.service.between_closes import BetweenCloses
from stakepool.service.credible import check_checkpoints, incredible
from stakepool.service.doppelganger_keys import doppelganger_keys
from stakepool.service.epoch_end import EpochEndReader
from stakepool.service.epoch_steps import EpochSteps, slot_backoff
from stakepool.service.group_end import Done, first_fatal, raise_when_set
from stakepool.service.money import MoneyPath
from stakepool.service.pool_members import configured_members
from stakepool.store.database import Database, OutOfSpace

log = structlog.get_logger("stakepool")

STARTUP_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
# Slashing evidence and key-compromise signals stream too; a node refusing a topic only loses it
# (the stream drops it) and the monitor still finds the evidence in the op pools and blocks.
TOPICS = (
    Topic.HEAD,
    Topic.FINALIZED_CHECKPOINT,
    Topic.CHAIN_REORG,
    Topic.ATTESTER_SLASHING,
    Topic.PROPOSER_SLASHING,
    Topic.VOLUNTARY_EXIT,
    Topic.BLS_TO_EXECUTION_CHANGE,
)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        client: BeaconClient,
        bus: EventBus,
        metrics: Metrics,
        db: Database,
        money: MoneyPath,
        publisher: EventPublisher | None = None,
        systemd: SystemdReporter | None = None,
        outbox_max_rows: int | None = None,
        max_epochs: int | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.bus = bus
        """Where the daemon tells what happens; the faces subscribed in the root."""
        self.metrics = metrics
        self.db = db
        """The daemon's one database (monitor state, ledger, outbox)."""
        self.money = money
        """Rewards → ledger (settlement per epoch, finality, reorgs, delegations)."""
        self.publisher = publisher
        """MQTT delivery of the outbox (``publish/mqtt``), if configured."""
        self.systemd = systemd
        self.outbox_max_rows = outbox_max_rows
        """Monitor events also go to the outbox (bounded to this many rows) when something
        consumes it."""
        self.max_epochs = max_epochs
        self.spec: ChainSpec | None = None
        self.members: tuple[PoolMember, ...] = ()
        self.tracker: HeadTracker | None = None
        self.monitor: MonitorService | None = None
        self.ready = asyncio.Event()
        self._closed: asyncio.Queue[Epoch] = asyncio.Queue()
        self._last_balances: Mapping[ValidatorIndex, Gwei] | None = None
        self._ends = EpochEndReader(client, money.known_states)
        self._last_epoch: Epoch | None = None
        self._epochs_shown = 0

    def not_ready_reason(self) -> str | None:
        """For ``/readyz``: None when ready, else why not."""
        if self.client.pool.conflict is not None:
            return self.client.pool.conflict
        if not self.ready.is_set():
            if self.spec is None:
                return "starting: waiting for a beacon node"
            return "starting: resolving the pool's validators"
        return no_node_answers(self.client.health()) or self.money.pause.reason

    # --- start-up ------------------------------------------------------------------------------

    async def connect(self) -> ChainSpec:
        """Genesis check and spec, retried until a node answers; a wrong chain is fatal."""
        attempt = 0
        waiting_logged = False
        while True:
            try:
                genesis = await self.client.check_genesis(self.settings.beacon.genesis_root)
                spec_map = await self.client.node.spec()
                spec = ChainSpec.from_api(
                    spec_map, genesis.genesis_time, genesis.genesis_validators_root
                )
                if waiting_logged:
                    log.info("beacon_node_reachable", nodes=self.client.urls)
                return spec
            except WrongChain:
                raise
            except (BeaconError, ValueError) as exc:
                if not waiting_logged:
                    log.warning("waiting_for_beacon_node", nodes=self.client.urls, error=str(exc))
                    waiting_logged = True
                delay = STARTUP_RETRY_SECONDS[min(attempt, len(STARTUP_RETRY_SECONDS) - 1)]
                attempt += 1
                await asyncio.sleep(delay)

    async def resolve_members(self) -> tuple[PoolMember, ...]:
        return await configured_members(self.settings.pool, self.client)

    # --- loops ---------------------------------------------------------------------------------

    async def follow_head(self, spec: ChainSpec) -> None:
        tracker = self.tracker
        assert tracker is not None
        stream = EventStream(
            self.client,
            topics=TOPICS,
            slot_seconds=spec.slot_duration_ms / 1000,
            slots_per_epoch=spec.slots_per_epoch,
            use_stream=self.settings.beacon.use_event_stream,
        )
        clock = spec.clock()
        async with stream:
            async for event in stream:
                data = event.data
                if (why := incredible(data, clock)) is not None:
                    log.warning("beacon_event_ignored", topic=event.topic, reason=why)
                    continue
                if self.monitor is not None:
                    await self.monitor.on_stream_event(event)
                if isinstance(data, ChainReorgEvent):
                    self.money.on_reorg(data)
                if isinstance(data, HeadEvent):
                    first = tracker.head is None
                    for epoch in tracker.on_head(data.slot, data.block):
                        self._closed.put_nowait(epoch)
                    if first:
                        await self._first_head(tracker)
                    head = tracker.head
                    if head is not None:
                        self.metrics.set_head(head.slot, head.epoch)
                        self.bus.publish(head)
                elif isinstance(data, FinalizedCheckpointEvent):
                    head = tracker.head
                    justified = head.justified_epoch if head else 0
                    tracker.on_checkpoints(justified, data.epoch)
                    if tracker.head is not None:
                        view = tracker.head
                        self.metrics.set_checkpoints(view.justified_epoch, view.finalized_epoch)
                        if self.monitor is not None:
                            await self.monitor.on_finality(view.epoch, view.finalized_epoch)
                if self.publisher is not None and not isinstance(data, HeadEvent):
                    # A reorg, slashing evidence or finality news was just committed with its
                    # events: send them now rather than at the next poll (heads come every slot
                    # and carry no event of their own; the epoch worker notifies for those).
                    self.publisher.notify()

    async def _first_head(self, tracker: HeadTracker) -> None:
        if tracker.skipped is not None:
            first, last = tracker.skipped
            log.warning(
                "monitor_epochs_skipped",
                first=first,
                last=last,
                reason="down longer than [monitor] catch_up_epochs",
            )
        if self.monitor is not None and tracker.head is not None:
            await self.monitor.start(tracker.head.epoch)

    async def epoch_worker(self, spec: ChainSpec) -> None:
        slot_seconds = spec.slot_duration_ms / 1000
        errors = (BeaconError, LedgerError, ValueError, OutOfSpace)
        steps = EpochSteps(slot_backoff(slot_seconds), errors)
        waiting = BetweenCloses(
            self.money,
            self.monitor,
            steps,
            clock=spec.clock(),
            notify=self._notify,
            head_slot=self._head_slot,
        )
        while True:
            epoch = await waiting.next_closed(self._closed)
            with collector.without_full_collection():
                await self._close_epoch(spec, epoch, steps)
            self._notify()  # this epoch's events are committed: send them now
            self.metrics.set_epoch_processed(epoch)  # after the monitor: "processed" means all
            self._epochs_shown += 1
            if self.max_epochs is not None and self._epochs_shown >= self.max_epochs:
                raise Done

    async def _close_epoch(self, spec: ChainSpec, epoch: Epoch, steps: EpochSteps) -> None:
        """Report, statuses, monitor, money: a failed step never costs the others (``EpochSteps``)."""
        report = await steps.run("epoch_report", epoch, lambda: self._epoch_report(spec, epoch))
        head = report.head if report is not None else self.tracker.head if self.tracker else None
        assert head is not None  # epochs close on heads
        records = await self._update_statuses(epoch, Slot(spec.clock().last_slot(epoch)))
        self._ends.done()
        if report is not None:
            self.metrics.set_checkpoints(head.justified_epoch, head.finalized_epoch)
            self.metrics.set_balances(report.balances)
            self.bus.publish(report)
        monitor = self.monitor
        if monitor is not None:
            # Once: its parts contain their own failures; a second pass would count twice.
            await steps.run(
                "monitor", epoch, lambda: monitor.on_epoch_closed(epoch, head, records), attempts=1
            )
        await steps.run(
            "money", epoch, lambda: self.money.on_epoch_closed(epoch, head.finalized_epoch)
        )

    async def _update_statuses(self, epoch: Epoch, state_slot: Slot) -> ValidatorColumns | None:
        """Validators by status and slashed, once per epoch; a failure only leaves them stale.

        The records (as columns, no model per validator) go on to the monitor too: the report's
        read serves both, and the rewards windows (``service/epoch_end``); read here only when
        the report failed (None when this fails too)."""
        if not self.members:
            return None
        end = self._ends.of(epoch)
        if end is not None:
            columns = end.columns
        else:
            try:
                ids = [m.index for m in self.members]
                columns = (await self.client.state.validator_columns(state_slot, ids)).data
            except BeaconError as exc:
                log.warning("validator_statuses_failed", slot=state_slot, error=str(exc))
                return None
        self.metrics.set_validator_statuses(columns.status, slashed=sum(columns.slashed))
        return columns

    async def _epoch_report(self, spec: ChainSpec, epoch: Epoch) -> EpochReport:
        tracker = self.tracker
        assert tracker is not None
        checkpoints = await self.client.state.finality_checkpoints("head")
        justified, finalized = checkpoints.data.current_justified, checkpoints.data.finalized
        check_checkpoints(justified.epoch, finalized.epoch, spec.clock())
        tracker.on_checkpoints(justified.epoch, finalized.epoch)
        last_slot = Slot(spec.clock().last_slot(epoch))
        ids = [m.index for m in self.members]
        balances = (await self._ends.read(epoch, last_slot, ids)).balances() if ids else {}
        previous = self._last_balances if self._last_epoch == epoch - 1 else None
        self._last_balances, self._last_epoch = balances, epoch
        head = tracker.head
        assert head is not None
        return EpochReport(epoch, last_slot, balances, previous, head)

    async def start_and_follow(self, group: asyncio.TaskGroup) -> None:
        """Connect, resolve the pool, become ready, then hand the chain to the two loops."""
        spec = await self.connect()
        self.spec = spec
        probe = self.client.pace(spec.slot_duration_ms / 1000)
        group.create_task(probe.run(), name="beacon_probe")
        while True:
            try:
                self.members = await self.resolve_members()
                break
            except BeaconError as exc:
                log.warning("pool_resolution_failed", error=str(exc))
                await asyncio.sleep(2.0)
        self.metrics.set_pool((m.index, m.label) for m in self.members)
        monitor_settings = self.settings.monitor
        keeper = MonitorKeeper(
            self.db,
            chain_key(spec),
            self.settings.pool.id,
            self.outbox_max_rows,
            # The ledger's duty outcomes are written in the monitor's transaction: the one path
            # by which the monitor's digest reaches the ledger, and it survives a kill.
            digest_writers=[self.money.duties.write],
        )
        self.monitor = MonitorService(
            self.client,
            spec,
            (m.index for m in self.members),
            self.metrics.duties,
            self.bus,
            thresholds=monitor_settings.thresholds(),
            keeper=keeper,
            doppelganger=doppelganger_keys(self.settings.monitor, self.members),
        )
        last = await self.monitor.restore()
        self.tracker = HeadTracker(
            spec.slots_per_epoch,
            resume_from=None if last is None else last + 1,
            max_catch_up=monitor_settings.catch_up_epochs,
        )
        await self.money.start(self.client, spec, lambda: [m.index for m in self.members])
        group.create_task(self.money.watch_delegations(self._next_boundary), name="delegations")
        collector.freeze_startup()
        self.bus.publish(Started(spec, self.members, tuple(self.client.urls)))
        self.ready.set()
        group.create_task(self.follow_head(spec), name="follow_head")
        group.create_task(self.epoch_worker(spec), name="epoch_worker")

    def _notify(self) -> None:
        if self.publisher is not None:
            self.publisher.notify()

    def _head_slot(self) -> int | None:
        head = None if self.tracker is None else self.tracker.head
        return None if head is None else int(head.slot)

    def _next_boundary(self) -> int | None:
        """The epoch a delegation change read now takes effect at: the next one to start."""
        head = None if self.tracker is None else self.tracker.head
        return None if head is None else int(head.epoch) + 1

    async def check_doppelgangers(self) -> dict[str, object] | None:
        """The on-demand check (HTTP); None while the monitor is not running yet."""
        if self.monitor is None or self.tracker is None or self.tracker.head is None:
            return None
        return await self.monitor.check_doppelgangers()

    async def run(self, stop: asyncio.Event, http: HttpServer | None = None) -> None:
        """Until stopped, done, or a fatal error (raised as itself, not as an exception group).

        ``http`` serves while the daemon starts up too, so ``/readyz`` can say why it is not ready.
        """
        # The publisher runs beside the group, not in it: a stop first ends every producer (the
        # group), then lets the publisher deliver what they committed (`finish`), so the last
        # epoch's events and alerts do not wait in the outbox for the next start.
        publisher = self.publisher
        publishing = (  # from the start: rows left by the last run go out
            None if publisher is None else asyncio.create_task(publisher.run(), name="mqtt")
        )
        cancelled = False
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(raise_when_set(stop), name="stop_watch")
                if http is not None:
                    group.create_task(http.serve(), name="http")
                group.create_task(monitor_loop_lag(self.metrics.observe_loop_lag), name="loop_lag")
                group.create_task(watch_disk(self.db, self.metrics.disk), name="disk")
                if self.systemd is not None:  # pinged from this loop: a stalled loop starves it
                    group.create_task(self.systemd.run(self.not_ready_reason), name="sd_notify")
                group.create_task(self.start_and_follow(group), name="start_and_follow")
        except BaseExceptionGroup as errors:
            fatal = first_fatal(errors)
            if fatal is not None:
                raise fatal from None
        except asyncio.CancelledError:
            # Cancelled from outside, not stopped: no grace, only the `offline` status. (Not
            # `task.cancelling()`: on 3.11 a group ended by a child's error leaves it counted.)
            cancelled = True
            raise
        finally:
            if publisher is not None and publishing is not None:
                grace = 0.0 if cancelled else self.settings.mqtt.stop_grace_seconds
                await publisher.finish(publishing, grace)
