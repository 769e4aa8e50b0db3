"""The composition root: ``run_daemon`` builds every part of the daemon from ``Settings``.

In order, each under one exit stack (so whatever was built is closed, in reverse, however the run
ends): the database; the event bus with the faces subscribed to it (the structured log first, then
sd_notify, then the caller's ``listeners`` — the demo's console, a test's recorder); the beacon
client; the metrics (the monitor's duty tallies, the ledger's gauges, the beacon nodes' health);
the money path (rewards → ledger → HTTP API); the MQTT publisher; the supervisor; the HTTP server.
Then the supervisor's task group runs until a stop, the requested number of epochs, or a fatal
error. Nothing is assembled or patched from outside after construction.

Fatal start-up errors (the database cannot be opened, a broker setting is unusable, the HTTP port
is taken, the configured chain is nowhere) end with exit code 1 and one clear log line. So does any
other error that ends the run (a full disk, a database gone bad mid-run): one ``fatal_error`` line
(JSON when not on a TTY) with the reason and where it was raised, the traceback inside that one
line, and exit code 1 for the unit's ``Restart=on-failure``; never a bare traceback on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import traceback
from collections.abc import Callable, Sequence

import structlog

from stakepool.beacon.errors import WrongChain
from stakepool.chain.bus import EventBus
from stakepool.chain.redact import redact_url
from stakepool.config import Settings
from stakepool.monitor.tallies import DutyTallies
from stakepool.publish import ledger_metrics, log_lines
from stakepool.publish.api.duties import add_duties_route
from stakepool.publish.http import HttpServer, add_doppelganger_route, build_app
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import BrokerConfigError, MqttPublisher, build_publisher
from stakepool.publish.replica_metrics import ReplicaMetrics
from stakepool.publish.sdnotify import SystemdReporter
from stakepool.publish.web import mount_web
from stakepool.service.clients import beacon_client
from stakepool.service.duties import daemon_source
from stakepool.service.event_sink import EventSink
from stakepool.service.keyed_supervisor import KeyedSupervisor
from stakepool.service.logs import configure_logging
from stakepool.service.money import MoneyPath
from stakepool.service.supervisor import Supervisor
from stakepool.service.witness import witness_running
from stakepool.service.writer_role import hold_lease
from stakepool.store.database import Database, DatabaseError, OutOfSpace
from stakepool.store.outbox_queue import OutboxQueue
from stakepool.store.replicas import ReadReplicas
from stakepool.store.writer import WriterLease, default_instance, store_session_settings

log = structlog.get_logger("stakepool")

EXIT_FATAL = 1
SPACE_RETRY_SECONDS = 5.0
"""A start on a full disk tries to open the database again this often."""

Listener = Callable[[EventBus], None]
"""Subscribes a face to the event bus (``ConsoleView(out).subscribe``, a test's recorder)."""


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
    listeners: Sequence[Listener] = (),
    max_epochs: int | None = None,
    configure_logs: bool = True,
    on_listening: Callable[[str], None] | None = None,
    http_fallback: bool = False,
    outbox_max_rows: int | None = None,
) -> int:
    """Run until stopped (or ``max_epochs`` closed epochs were reported); the exit code.

    ``on_listening(url)`` is told the HTTP server's base URL once it is bound (``[http] port = 0``
    binds an ephemeral port); ``http_fallback`` binds an ephemeral port if the configured one is
    taken instead of failing. The database (``[ledger] database``) is opened first: one that
    cannot be opened (or has a newer schema) is a fatal start-up error (exit code 1, one line).
    ``outbox_max_rows``: monitor events also go to the outbox (for MQTT), bounded.
    """
    if configure_logs:
        configure_logging(settings.log.level, settings.log.format, secrets=settings.secrets())
    try:
        return await _run(
            settings,
            stop=stop or asyncio.Event(),
            listeners=listeners,
            max_epochs=max_epochs,
            on_listening=on_listening,
            http_fallback=http_fallback,
            outbox_max_rows=outbox_max_rows,
        )
    except Exception as exc:
        log_fatal(exc)
        return EXIT_FATAL


async def _open_when_room(path: str, stop: asyncio.Event, password: str | None) -> Database | None:
    """The database, opened; on a full disk (a restart while it is still full) the daemon waits
    for room instead of exiting into a restart loop: one critical line, a try every
    ``SPACE_RETRY_SECONDS``, None if stopped meanwhile."""
    waiting = False
    while True:
        try:
            db = Database.open(path, password=password)
        except OutOfSpace as exc:
            if not waiting:
                log.critical(
                    "database_waiting_for_space",
                    path=redact_url(path),
                    error=str(exc),
                    hint="the ledger's disk is full: free space or grow the volume; the daemon"
                    " opens the database by itself once there is room",
                )
                waiting = True
        else:
            if waiting:
                log.warning("database_space_returned", path=redact_url(path))
            return db
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SPACE_RETRY_SECONDS):
                await stop.wait()
        if stop.is_set():
            return None


def log_fatal(exc: BaseException) -> None:
    """One line for an error that ends the daemon: what, why, where (and the traceback, inside
    the line), so journald shows one record and systemd's ``Restart=`` does the rest."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    log.critical(
        "fatal_error",
        reason=f"{type(exc).__name__}: {exc}",
        where=f"{where[0].filename}:{where[0].lineno} in {where[0].name}" if where else None,
        exit_code=EXIT_FATAL,
        exc_info=exc,
    )


async def _run(
    settings: Settings,
    *,
    stop: asyncio.Event,
    listeners: Sequence[Listener],
    max_epochs: int | None,
    on_listening: Callable[[str], None] | None,
    http_fallback: bool,
    outbox_max_rows: int | None,
) -> int:
    path = settings.ledger.resolved_database()
    uninstall = _install_signals(stop)  # a stop while it waits for room on a full disk
    try:
        db = await _open_when_room(path, stop, settings.ledger.database_password())
    except DatabaseError as exc:
        log.error("database_unusable", path=redact_url(path), error=str(exc))
        return 1
    finally:
        uninstall()
    if db is None:
        return 0  # stopped while waiting for room
    lease: WriterLease | None = None
    if db.dialect.advisory_locks:  # PostgreSQL: several instances, one fenced writer
        lease = WriterLease(
            path,
            settings.ledger.database_password(),
            instance=settings.ledger.instance or default_instance(),
            lease_seconds=settings.ledger.writer_lease_seconds,
        )
        db.configure_session(store_session_settings(lease.lease_seconds))
        db.fence = lease.check
        await asyncio.to_thread(lease.step)  # a lone instance is the writer from the start
        log.info("ledger_role", role=lease.role, instance=lease.instance, term=lease.seen.term)
    if outbox_max_rows is None and settings.mqtt.url:
        outbox_max_rows = settings.mqtt.outbox_max_rows  # events have a consumer: keep them

    async with contextlib.AsyncExitStack() as stack:
        stack.callback(db.close)
        if lease is not None:
            stack.callback(lease.close)  # a clean stop hands the writer's role on at once
        stack.callback(log.info, "stopped")

        replicas: ReadReplicas | None = None
        if settings.ledger.read_urls:  # PostgreSQL (the settings refuse them on SQLite)
            replicas = ReadReplicas(
                db, settings.ledger.read_urls, password=settings.ledger.database_password()
            )
            stack.callback(replicas.close)
            log.info("ledger_read_replicas", replicas=list(replicas.lags()))

        bus = EventBus()
        log_lines.subscribe(bus)  # first: a fact is logged before any other face shows it
        systemd = SystemdReporter.from_env()  # a no-op unless systemd started us (Type=notify)
        systemd.subscribe(bus)
        for listener in listeners:
            listener(bus)

        tallies = DutyTallies()
        metrics = Metrics(
            per_validator_limit=settings.metrics.per_validator_limit,
            pool_id=settings.pool.id,
            duties=tallies,
        )
        ledger_metrics.subscribe(bus, metrics.ledger)
        events = EventSink(db, bus, pool_id=settings.pool.id, outbox_max_rows=outbox_max_rows)
        money = MoneyPath(
            settings,
            db,
            bus,
            outbox_max_rows=outbox_max_rows,
            events=events,
            active=None if lease is None else lease.is_writer,
            reads=replicas,
        )
        if replicas is not None:
            ReplicaMetrics(replicas, metrics.registry)
        stack.push_async_callback(money.close)
        client = beacon_client(settings, settings.beacon.urls)
        stack.push_async_callback(client.close)
        metrics.watch_beacon(client.health)
        await stack.enter_async_context(
            witness_running(settings, bus, metrics.registry, events, money)
        )

        publisher: MqttPublisher | None = None
        if settings.mqtt.url:  # the publisher drains the outbox of the daemon's one database
            try:
                publisher = build_publisher(
                    settings.mqtt,
                    OutboxQueue(db, active=None if lease is None else lease.is_writer),
                    metrics.delivery,
                    pool_id=settings.pool.id,
                    redactor=settings.redactor(),
                    writer=None if lease is None else lease.is_writer,
                    instance=None if lease is None else lease.instance,
                )
            except BrokerConfigError as exc:
                log.error("mqtt_setup_failed", error=str(exc))
                return 1
        if publisher is not None:
            events.notify = publisher.notify  # the daemon's own events: sent as committed

        # A pool fed by validator clients' keymanagers changes while running: the keyed variant.
        kind: Callable[..., Supervisor] = (
            functools.partial(KeyedSupervisor, events=events)
            if settings.validator_client
            else Supervisor
        )
        supervisor = kind(
            settings,
            client=client,
            bus=bus,
            metrics=metrics,
            db=db,
            money=money,
            publisher=publisher,
            systemd=systemd,
            outbox_max_rows=outbox_max_rows,
            max_epochs=max_epochs,
        )
        if lease is not None:  # beside the group, like the witness: the writer's lock held
            holding = asyncio.create_task(
                hold_lease(lease, metrics.registry, publisher), name="writer_lease"
            )
            stack.callback(holding.cancel)
        if isinstance(supervisor, KeyedSupervisor):
            stack.push_async_callback(supervisor.keys.close)
        app = build_app(
            metrics.registry,
            supervisor.not_ready_reason,
            api=money.api,
            role=None if lease is None else lambda: lease.role,
        )
        add_doppelganger_route(app, supervisor.check_doppelgangers, settings.http.token)
        add_duties_route(
            app,
            daemon_source(
                client,
                lambda: supervisor.spec,
                lambda: (
                    [m.index for m in supervisor.members] if supervisor.ready.is_set() else None
                ),
            ),
        )
        mount_web(
            app,
            settings,
            money.api.store,  # the API's: on the read replicas when there are some
            bus,
            client=client,
            spec=lambda: supervisor.spec,
            pool=lambda: frozenset(int(m.index) for m in supervisor.members),
        )
        http = HttpServer(
            app, settings.http.host, settings.http.port, fallback_to_ephemeral=http_fallback
        )
        stack.push_async_callback(http.stop)
        stack.callback(_install_signals(stop))
        stack.callback(systemd.stopping)
        try:
            # Bound before anything else: a taken port is an operator error to report at once.
            await http.start()
        except OSError as exc:
            log.error(
                "http_bind_failed", host=settings.http.host, port=settings.http.port, error=str(exc)
            )
            return 1
        if on_listening is not None:
            on_listening(http.url)
        try:
            await supervisor.run(stop, http)
        except WrongChain as exc:
            log.error("wrong_chain", error=str(exc))
            return 1
    return 0
