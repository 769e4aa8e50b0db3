"""Our own HTTP face: ``/metrics``, ``/healthz``, ``/readyz``, and the ledger API (``/api/v1/…``).

One aiohttp application on the daemon's event loop (no thread): prometheus_client's aiohttp
handler serves our registry. ``/healthz`` is liveness: it answers as long as the loop runs, which
is exactly what a restart would fix. ``/readyz`` is readiness: 200 only when the daemon is ready
and a beacon node is reachable, else 503 with the reason as JSON, so a probe's log says why.
``build_app`` returns the ``web.Application`` that the ledger API adds its routes to.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from pydantic import SecretStr

from stakepool.publish.api import API_PREFIX, LedgerApi
from stakepool.publish.api.auth import bearer_matches, writer_token
from stakepool.publish.api.errors import add_only_route

log = structlog.get_logger(__name__)

NotReadyReason = Callable[[], str | None]
"""None when ready; otherwise why not (one short sentence)."""

SHUTDOWN_SECONDS = 2.0
"""Grace for in-flight requests on stop; scrapes are short, and SIGTERM must end us in seconds."""


def build_app(
    registry: CollectorRegistry,
    not_ready: NotReadyReason,
    *,
    api: LedgerApi | None = None,
    role: Callable[[], str] | None = None,
) -> web.Application:
    """``api``: the ledger HTTP API, mounted under ``/api/v1`` when given."""
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        reason = not_ready()
        # The ledger role (several instances on one PostgreSQL ledger): a standby is ready too.
        extra = {} if role is None else {"role": role()}
        if reason is None:
            return web.json_response({"status": "ready", **extra})
        return web.json_response({"status": "not ready", "reason": reason, **extra}, status=503)

    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if api is not None:
        app.add_subapp(API_PREFIX, api.app())
    return app


DoppelgangerCheck = Callable[[], Awaitable[dict[str, object] | None]]
"""Runs the check; None while the daemon is not following the chain yet."""


def add_doppelganger_route(
    app: web.Application, check: DoppelgangerCheck, token: SecretStr | None
) -> None:
    """``POST /api/v1/doppelganger/check``: the doppelganger check now, its result as JSON.

    A write-class endpoint (it makes the daemon query the beacon node): bearer token required;
    with no ``[http] token`` configured, or a blank one (an empty credential file), it is refused
    (403), never open. The same check as the ledger API's writes (``api.auth``).
    """
    expected = writer_token(token)

    async def handler(request: web.Request) -> web.Response:
        if expected is None:
            return web.json_response(
                {"error": "no [http] token is configured: write endpoints are off"}, status=403
            )
        if not bearer_matches(request.headers.get("Authorization", ""), expected):
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        result = await check()
        if result is None:
            return web.json_response(
                {"error": "not ready: the daemon is not following the chain yet"}, status=503
            )
        return web.json_response(result, status=502 if "error" in result else 200)

    # Other methods: 405 (the path exists), not the ledger sub-app's 404 for a path it lacks.
    add_only_route(app, "POST", "/api/v1/doppelganger/check", handler)


class HttpServer:
    """Binds ``host:port`` (``port=0``: an ephemeral port; ``url`` tells which after ``start``).

    ``fallback_to_ephemeral``: if the port is taken, bind an ephemeral one instead of failing
    (the demo, which must not depend on 9464 being free); the daemon proper fails loudly.
    """

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        fallback_to_ephemeral: bool = False,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.fallback_to_ephemeral = fallback_to_ephemeral
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, self.host, self.port).start()
            except OSError as exc:
                if not (self.fallback_to_ephemeral and exc.errno == errno.EADDRINUSE):
                    raise
                log.warning("http_port_taken", port=self.port, fallback="ephemeral port")
                await web.TCPSite(runner, self.host, 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        log.info("http_listening", url=self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def serve(self) -> None:
        """A task body: start (unless started), serve until cancelled, then stop."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
