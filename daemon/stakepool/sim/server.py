"""``SimServer``: the aiohttp app serving a ``SimChain`` over the Beacon API and SSE.

Several servers may serve the same chain (failover tests); each has its own SSE subscribers and
faults, and stopping one leaves the others untouched. Time moves either with the wall clock
(``auto_advance=True``: one slot per ``SLOT_DURATION_MS`` from genesis) or by ``await advance(n)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from stakepool.sim import routes_blocks, routes_duties, routes_node, routes_rewards, routes_states
from stakepool.sim.chain import SimChain, SlotOutcome
from stakepool.sim.faults import BODY_FAULTS, STATUS_FAULTS, Faults, corrupt, drop_finalized
from stakepool.sim.routes_events import EventHub
from stakepool.sim.web_common import CHAIN, MAX_BODY_BYTES, ApiError, error

_log = structlog.get_logger("stakepool.sim")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fault_middleware(faults: Faults) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        fault = faults.get(route.name) or faults.get(
            route.resource.canonical if route.resource else None
        )
        if fault in STATUS_FAULTS:
            status, message = STATUS_FAULTS[fault]
            return error(status, message)
        state_id = request.match_info.get("state_id", "")
        if faults.state_history_slots is not None and state_id and _pruned(request, faults):
            return error(404, f"No state found for id '{state_id}'")
        if faults.no_state_at_empty_slot and state_id.isdecimal():
            with contextlib.suppress(ValueError):
                if request.app[CHAIN].block(state_id) is None:
                    return error(404, f"No state found for id '{state_id}'")
        try:
            response = await handler(request)
        except ApiError as exc:
            return error(exc.status, exc.message)
        except web.HTTPNotFound:
            return error(404, "Route not found")
        except web.HTTPMethodNotAllowed:
            return error(405, "Method not allowed")
        if fault in BODY_FAULTS and isinstance(response, web.Response) and response.body:
            raw = (
                response.body
                if isinstance(response.body, bytes)
                else (response.text or "").encode()
            )
            response.body = corrupt(raw, fault)
        if faults.omit_finalized and isinstance(response, web.Response) and response.body:
            raw = (
                response.body
                if isinstance(response.body, bytes)
                else (response.text or "").encode()
            )
            response.body = drop_finalized(raw)
        return response

    return middleware


def _pruned(request: web.Request, faults: Faults) -> bool:
    """The requested state is older than a pruning node keeps (``Faults.state_history_slots``)."""
    chain: SimChain = request.app[CHAIN]
    state_id = request.match_info["state_id"]
    if state_id in ("head", "genesis", "finalized", "justified"):
        return False  # a pruning node still serves its anchors
    try:
        state = chain.state(state_id)
        head = chain.state("head")
    except ValueError:
        return False  # a malformed id: the route answers 400 itself
    if state is None or head is None or faults.state_history_slots is None:
        return False
    return head.slot - state.slot > faults.state_history_slots


class SimServer:
    def __init__(
        self,
        chain: SimChain,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auto_advance: bool = False,
        keepalive_seconds: float = 5.0,
    ) -> None:
        self.chain = chain
        self.host = host
        self.port = port
        self.auto_advance = auto_advance
        self.faults = Faults()
        self.events = EventHub(self.faults, keepalive_seconds)
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[_fault_middleware(self.faults)], client_max_size=MAX_BODY_BYTES
        )
        app[CHAIN] = self.chain
        for module in (routes_node, routes_states, routes_blocks, routes_duties, routes_rewards):
            module.register(app)
        app.router.add_get("/eth/v1/events", self.events.handle, name="getEvents")
        return app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.build_app(), shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner
        self.chain.add_listener(self.events.publish)
        if self.auto_advance:
            self._ticker = asyncio.create_task(self._tick(), name="sim-ticker")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.chain.remove_listener(self.events.publish)
        self.events.drop_all()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def advance(self, slots: int = 1) -> list[SlotOutcome]:
        """Step the chain by hand; events reach every server's streams."""
        out = []
        for _ in range(slots):
            out.append(self.chain.advance_slot())
            await asyncio.sleep(0)
        return out

    async def drop_streams(self) -> None:
        self.events.drop_all()
        await asyncio.sleep(0)

    async def _tick(self) -> None:
        try:
            await self._follow_wall_clock()
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("sim_ticker_stopped", head_slot=self.chain.head_slot)
            raise

    async def _follow_wall_clock(self) -> None:
        chain = self.chain
        slot_ms = chain.params.slot_duration_ms
        genesis_ms = chain.genesis_time * 1000
        while True:
            now_ms = time.time_ns() // 1_000_000
            target = (now_ms - genesis_ms) // slot_ms
            while chain.head_slot < target:
                chain.advance_slot()
                await asyncio.sleep(0)
            next_ms = genesis_ms + (chain.head_slot + 1) * slot_ms
            await asyncio.sleep(max(0.0, (next_ms - time.time_ns() // 1_000_000) / 1000))


ROUTE_NAMES = (
    "getGenesis",
    "getSpec",
    "getSyncingStatus",
    "getHealth",
    "getNodeVersion",
    "getStateValidators",
    "postStateValidators",
    "getStateValidator",
    "getStateValidatorBalances",
    "postStateValidatorBalances",
    "postStateValidatorIdentities",
    "getStateFinalityCheckpoints",
    "getEpochCommittees",
    "getEpochSyncCommittees",
    "getPendingDeposits",
    "getBlockHeaders",
    "getBlockHeader",
    "getBlockV2",
    "getBlindedBlock",
    "getBlockAttestationsV2",
    "getPoolAttesterSlashingsV2",
    "getPoolAttesterSlashings",
    "getBlockAttestations",
    "getPoolProposerSlashings",
    "getPoolVoluntaryExits",
    "getProposerDuties",
    "getAttesterDuties",
    "getSyncCommitteeDuties",
    "getLiveness",
    "getAttestationsRewards",
    "getBlockRewards",
    "getSyncCommitteeRewards",
    "getEvents",
)
