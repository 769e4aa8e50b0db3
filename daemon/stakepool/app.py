"""The supervisor: builds every part, owns every task, stops cleanly on SIGTERM/SIGINT.

One ``asyncio.TaskGroup`` owns the long-running loops. Each loop retries its own transient
errors (a beacon node down, a malformed answer: logged once, then carried on); only a fatal error
(the configured chain is nowhere to be found) escapes and stops the daemon with exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, WrongChain
from stakepool.beacon.models import FinalizedCheckpointEvent, HeadEvent, Topic
from stakepool.beacon.stream import EventStream
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.config import Settings, parse_validator_ref
from stakepool.logs import configure_logging
from stakepool.monitor.head import HeadTracker
from stakepool.monitor.pool import PoolMember, resolve_pool
from stakepool.report import ConsoleObserver, EpochReport, Observer

log = structlog.get_logger("stakepool")
T = TypeVar("T")

STARTUP_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
TOPICS = (Topic.HEAD, Topic.FINALIZED_CHECKPOINT, Topic.CHAIN_REORG)


class _Stop(Exception):
    """Raised inside the task group to end it: the stop event was set."""


class _Done(Exception):
    """Raised inside the task group to end it: the requested number of epochs was shown."""


class LogObserver:
    """The structured log is always told; other observers (the demo's console) come on top."""

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        log.info(
            "started",
            nodes=nodes,
            network=spec.config_name or spec.preset_base,
            genesis_validators_root=spec.genesis_validators_root,
            slots_per_epoch=spec.slots_per_epoch,
            slot_duration_ms=spec.slot_duration_ms,
            pool_validators=len(members),
        )

    def head(self, view: object) -> None:
        log.debug("head", view=view)

    def epoch(self, report: EpochReport) -> None:
        log.info(
            "epoch_closed",
            epoch=report.epoch,
            state_slot=report.state_slot,
            finalized_epoch=report.head.finalized_epoch,
            pool_balance_gwei=report.total,
            pool_balance_change_gwei=report.change,
            validators=len(report.balances),
        )


class Daemon:
    def __init__(
        self,
        settings: Settings,
        client: BeaconClient,
        observers: list[Observer],
        *,
        max_epochs: int | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.observers = observers
        self.max_epochs = max_epochs
        self.spec: ChainSpec | None = None
        self.members: tuple[PoolMember, ...] = ()
        self.tracker: HeadTracker | None = None
        self.ready = asyncio.Event()
        self._closed: asyncio.Queue[Epoch] = asyncio.Queue()
        self._last_balances: dict[ValidatorIndex, Gwei] | None = None
        self._last_epoch: Epoch | None = None
        self._epochs_shown = 0

    # --- start-up ------------------------------------------------------------------------------

    async def connect(self) -> ChainSpec:
        """Genesis check and spec, retried until a node answers; a wrong chain is fatal."""
        attempt = 0
        waiting_logged = False
        while True:
            try:
                genesis = await self.client.check_genesis(self.settings.beacon.genesis_root)
                spec_map = await self.client.get_spec()
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
        refs = self.settings.pool.all_validators()
        if not refs:
            log.warning("pool_has_no_validators", hint="set [pool] validators or validators_file")
            return ()
        answer = await self.client.get_validators("head", [ref.key for ref in refs])
        resolution = resolve_pool(refs, ((v.index, v.validator.pubkey) for v in answer.data))
        if resolution.unknown:
            log.warning("validators_not_on_chain", ids=list(resolution.unknown))
        return resolution.members

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
        async with stream:
            async for event in stream:
                data = event.data
                if isinstance(data, HeadEvent):
                    for epoch in tracker.on_head(data.slot, data.block):
                        self._closed.put_nowait(epoch)
                    head = tracker.head
                    if head is not None:
                        for obs in self.observers:
                            obs.head(head)
                elif isinstance(data, FinalizedCheckpointEvent):
                    head = tracker.head
                    justified = head.justified_epoch if head else 0
                    tracker.on_checkpoints(justified, data.epoch)

    async def epoch_worker(self, spec: ChainSpec) -> None:
        while True:
            epoch = await self._closed.get()
            try:
                report = await self._epoch_report(spec, epoch)
            except BeaconError as exc:
                log.error("epoch_report_failed", epoch=epoch, error=str(exc))
                continue
            for obs in self.observers:
                obs.epoch(report)
            self._epochs_shown += 1
            if self.max_epochs is not None and self._epochs_shown >= self.max_epochs:
                raise _Done

    async def _epoch_report(self, spec: ChainSpec, epoch: Epoch) -> EpochReport:
        tracker = self.tracker
        assert tracker is not None
        checkpoints = await self.client.get_finality_checkpoints("head")
        tracker.on_checkpoints(
            checkpoints.data.current_justified.epoch, checkpoints.data.finalized.epoch
        )
        last_slot = Slot(spec.clock().last_slot(epoch))
        balances: dict[ValidatorIndex, Gwei] = {}
        if self.members:
            answer = await self.client.get_balances(last_slot, [m.index for m in self.members])
            balances = {ValidatorIndex(b.index): Gwei(b.balance) for b in answer.data}
        previous = (
            self._last_balances
            if self._last_epoch is not None and self._last_epoch == epoch - 1
            else None
        )
        self._last_balances, self._last_epoch = balances, epoch
        head = tracker.head
        assert head is not None
        return EpochReport(epoch, last_slot, balances, previous, head)

    async def run(self, stop: asyncio.Event) -> None:
        spec = await _until_stopped(self.connect(), stop)
        self.spec = spec
        self.tracker = HeadTracker(spec.slots_per_epoch)
        while True:
            try:
                self.members = await _until_stopped(self.resolve_members(), stop)
                break
            except BeaconError as exc:
                log.warning("pool_resolution_failed", error=str(exc))
                await _until_stopped(asyncio.sleep(2.0), stop)
        for obs in self.observers:
            obs.started(spec, self.members, self.client.urls)
        self.ready.set()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.follow_head(spec), name="follow_head")
                group.create_task(self.epoch_worker(spec), name="epoch_worker")
                group.create_task(_raise_when_set(stop), name="stop_watch")
        except* (_Stop, _Done):
            pass


async def _raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stop


async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``work`` unless ``stop`` is set first (then ``_Stop``)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise _Stop


def _install_signals(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


async def run_daemon(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    observers: list[Observer] | None = None,
    max_epochs: int | None = None,
    configure_logs: bool = True,
) -> int:
    """Run until stopped (or ``max_epochs`` closed epochs were reported); the exit code."""
    if configure_logs:
        configure_logging(settings.log.level, settings.log.format)
    stop = stop or asyncio.Event()
    remove_signals = _install_signals(stop)
    beacon = settings.beacon
    client = BeaconClient(
        beacon.urls,
        timeout=beacon.timeout_seconds,
        bulk_timeout=beacon.bulk_timeout_seconds,
        connect_timeout=beacon.connect_timeout_seconds,
        retries=beacon.retries,
        batch_size=beacon.batch_size,
    )
    daemon = Daemon(settings, client, [LogObserver(), *(observers or [])], max_epochs=max_epochs)
    try:
        await daemon.run(stop)
    except _Stop:
        pass
    except WrongChain as exc:
        log.error("wrong_chain", error=str(exc))
        return 1
    finally:
        remove_signals()
        await client.close()
        log.info("stopped")
    return 0


async def run_demo(
    settings: Settings,
    *,
    epochs: int | None,
    slot_seconds: float,
    validators: int,
    seed: int,
) -> int:
    """The simulator and the daemon in one process, with a console view."""
    from stakepool.sim.demo import demo_chain_server  # noqa: PLC0415 - numpy only when needed

    # The console view goes to stdout; the daemon's own log goes to stderr and, unless debugging,
    # only says what goes wrong: the view already tells the rest.
    configure_logging(
        "debug" if settings.log.level == "debug" else "warning",
        "json" if settings.log.format == "json" else "console",
        sys.stderr,
    )
    async with demo_chain_server(
        validators=validators, slot_seconds=slot_seconds, seed=seed
    ) as demo:
        demo_settings = settings.model_copy(
            update={
                "beacon": settings.beacon.model_copy(update={"urls": [demo.url]}),
                "pool": settings.pool.model_copy(
                    update={"validators": [parse_validator_ref(i) for i in demo.pool]}
                ),
            }
        )
        console = ConsoleObserver(sys.stdout)
        print(demo.describe(), flush=True)
        return await run_daemon(
            demo_settings, observers=[console], max_epochs=epochs, configure_logs=False
        )
