"""Helpers for testing ``BeaconClient`` / ``EventStream`` against the real simulator.

``InterceptingSimServer`` is a ``SimServer`` whose every request passes first through its
``intercept`` method: a test's node that answers some requests its own way. ``CountingSimServer``
counts the requests reaching it (by operationId, or ``METHOD /path`` for a path the sim does not
serve), before any injected fault answers them: the server's own record of what the client asked,
independent of the client's health counters.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.models import BeaconEvent
from stakepool.beacon.stream import EventStream
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import SimScenario
from stakepool.sim.server import SimServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SPE = 8
"""SLOTS_PER_EPOCH of the minimal preset the tests' chains use."""
FIXED_GENESIS = 1_700_000_000
FAST_RETRY = Backoff(base=0.005, maximum=0.02)
"""Retries on one node: a mainnet client's 0.25 s scaled down like the tests' short slots."""


class InterceptingSimServer(SimServer):
    """A ``SimServer`` behind ``intercept``, which by default passes every request on."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    def build_app(self) -> web.Application:
        app = super().build_app()

        @web.middleware
        async def outermost(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.intercept(request, handler)

        app.middlewares.insert(0, outermost)  # outermost: sees requests a fault then answers
        return app


class HaltingSimServer(SimServer):
    """Follows the wall clock like ``SimServer(auto_advance=True)`` but never past ``halt_slot``:
    both daemons then settle exactly the same epochs."""

    def __init__(self, chain: SimChain, halt_slot: int) -> None:
        super().__init__(chain, auto_advance=True)
        self.halt_slot = halt_slot

    async def _follow_wall_clock(self) -> None:
        chain = self.chain
        slot_ms = chain.params.slot_duration_ms
        genesis_ms = chain.genesis_time * 1000
        while chain.head_slot < self.halt_slot:
            now_ms = time.time_ns() // 1_000_000
            target = min(self.halt_slot, (now_ms - genesis_ms) // slot_ms)
            while chain.head_slot < target:
                chain.advance_slot()
                await asyncio.sleep(0)
            next_ms = genesis_ms + (chain.head_slot + 1) * slot_ms
            await asyncio.sleep(max(0.0, (next_ms - time.time_ns() // 1_000_000) / 1000))


class CountingSimServer(InterceptingSimServer):
    def __init__(
        self,
        chain: SimChain,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auto_advance: bool = False,
        keepalive_seconds: float = 5.0,
    ) -> None:
        super().__init__(
            chain, host, port, auto_advance=auto_advance, keepalive_seconds=keepalive_seconds
        )
        self.requests: Counter[str] = Counter()

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.route.name or f"{request.method} {request.path}"
        self.requests[name] += 1
        return await handler(request)


def stepped_chain(
    slot: int, *, validators: int = 64, seed: int = 5, scenario: SimScenario | None = None
) -> SimChain:
    """A chain with a fixed genesis, advanced by hand to ``slot`` (no wall clock)."""
    chain = SimChain(
        SimConfig(
            validators=validators,
            seed=seed,
            genesis_time=FIXED_GENESIS,
            scenario=scenario or SimScenario(),
        )
    )
    chain.advance_to(slot)
    return chain


def live_chain(
    slot_ms: int,
    *,
    validators: int = 64,
    seed: int = 5,
    scenario: SimScenario | None = None,
    genesis_in: int = 0,
) -> SimChain:
    """A chain whose genesis is now, or ``genesis_in`` seconds from now (a daemon started with it
    is then up before genesis); a server with ``auto_advance=True`` moves it each slot."""
    return SimChain(
        SimConfig(
            validators=validators,
            seed=seed,
            slot_duration_ms=slot_ms,
            genesis_time=int(time.time()) + genesis_in,
            scenario=scenario or SimScenario(),
        )
    )


async def wait_until(predicate: Callable[[], bool], what: str, within: float) -> float:
    """Poll ``predicate`` every 10 ms; the seconds it took, or AssertionError after ``within``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def collect_until(
    stream: EventStream,
    into: list[BeaconEvent],
    done: Callable[[list[BeaconEvent]], bool],
    what: str,
    within: float,
) -> None:
    """Append events from ``stream`` to ``into`` until ``done(into)``; AssertionError on timeout."""
    try:
        async with asyncio.timeout(within):
            while not done(into):
                into.append(await anext(stream))
    except TimeoutError:
        got = [(e.data.slot if hasattr(e.data, "slot") else None, e.polled) for e in into[-8:]]
        raise AssertionError(f"not within {within} s: {what}; last (slot, polled): {got}") from None
