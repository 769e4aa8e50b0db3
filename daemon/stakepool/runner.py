"""``run_daemon``: open the database, build the parts, serve HTTP, run the supervisor, clean up.

Fatal start-up errors (the database cannot be opened, a broker setting is unusable, the HTTP port
is taken, the configured chain is nowhere) end with exit code 1 and one clear log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import structlog

from stakepool.app import Daemon
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import WrongChain
from stakepool.config import Settings
from stakepool.logs import configure_logging
from stakepool.money import MoneyPath
from stakepool.observers import LogObserver
from stakepool.publish.http import HttpServer, add_doppelganger_route, build_app
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import BrokerConfigError, build_publisher
from stakepool.report import Observer
from stakepool.sdnotify import SystemdReporter
from stakepool.store.database import Database, DatabaseError
from stakepool.store.outbox_queue import OutboxQueue

log = structlog.get_logger("stakepool")


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
        configure_logging(settings.log.level, settings.log.format)
    stop = stop or asyncio.Event()
    path = settings.ledger.resolved_database()
    try:
        db = Database.open(path)
    except DatabaseError as exc:
        log.error("database_unusable", path=path, error=str(exc))
        return 1
    try:
        return await _run_with_db(
            settings,
            db,
            stop=stop,
            observers=observers,
            max_epochs=max_epochs,
            on_listening=on_listening,
            http_fallback=http_fallback,
            outbox_max_rows=outbox_max_rows,
        )
    finally:
        db.close()


async def _run_with_db(
    settings: Settings,
    db: Database,
    *,
    stop: asyncio.Event,
    observers: list[Observer] | None,
    max_epochs: int | None,
    on_listening: Callable[[str], None] | None,
    http_fallback: bool,
    outbox_max_rows: int | None,
) -> int:
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
    systemd = SystemdReporter.from_env()  # a no-op unless systemd started us (Type=notify)
    if outbox_max_rows is None and settings.mqtt.url:
        outbox_max_rows = settings.mqtt.outbox_max_rows  # events have a consumer: keep them
    metrics = Metrics(
        per_validator_limit=settings.metrics.per_validator_limit, pool_id=settings.pool.id
    )
    money = MoneyPath(settings, db, metrics.ledger, outbox_max_rows=outbox_max_rows)
    daemon = Daemon(
        settings,
        client,
        [LogObserver(), systemd, *(observers or [])],
        max_epochs=max_epochs,
        metrics=metrics,
        db=db,
        outbox_max_rows=outbox_max_rows,
        systemd=systemd,
        money=money,
    )
    app = build_app(daemon.metrics.registry, daemon.not_ready_reason, api=money.api)
    add_doppelganger_route(app, daemon.check_doppelgangers, settings.http.token)
    http = HttpServer(
        app,
        settings.http.host,
        settings.http.port,
        fallback_to_ephemeral=http_fallback,
    )
    if settings.mqtt.url:  # the publisher drains the outbox of the daemon's one database
        try:
            daemon.publisher = build_publisher(
                settings.mqtt, OutboxQueue(db), daemon.metrics.delivery, pool_id=settings.pool.id
            )
        except BrokerConfigError as exc:
            log.error("mqtt_setup_failed", error=str(exc))
            remove_signals()
            await client.close()
            return 1
    try:
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
        await daemon.run(stop, http)
    except WrongChain as exc:
        log.error("wrong_chain", error=str(exc))
        return 1
    finally:
        systemd.stopping()
        remove_signals()
        await http.stop()
        await client.close()
        await money.close()
        log.info("stopped")
    return 0
