"""A beacon node that accepts TCP and never answers, or stalls: the daemon notices within a slot or
two (log line, ``stakepool_beacon_up``), fails over, and ``/readyz`` tells the truth meanwhile.

Lags are counted in slots of the simulator's clock (its head when the fact is seen), not in
wall-clock thresholds: the same test holds on a loaded machine as long as the chain keeps time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.facts import EpochReport
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.listening import listen
from tests.integration.simkit import Handler, InterceptingSimServer, wait_until

SLOT_MS = 500
SPE = 8  # the minimal preset
POOL = [0, 1, 2, 3]


@contextlib.asynccontextmanager
async def silent_node() -> AsyncIterator[str]:
    """A loopback server that accepts every connection, reads what comes, and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


class StallingSimServer(InterceptingSimServer):
    """The simulator, except that while ``stalled`` every request waits until it is released."""

    def __init__(self, chain: SimChain) -> None:
        super().__init__(chain, auto_advance=True)
        self.release = asyncio.Event()
        self.release.set()

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self.release.wait()
        return await handler(request)


def _chain() -> SimChain:
    return SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=4))


def _settings(*urls: str) -> Settings:
    return Settings(
        beacon={
            "urls": list(urls),
            # A mainnet-like per-attempt timeout: before the fix a silent node cost 2 × 2 s
            # (8 slots) per request.
            "timeout_seconds": 2,
            "retries": 1,
            "request_deadline_slots": 1,
            "min_request_deadline_seconds": 0.5,
            "use_event_stream": False,
        },
        pool={"validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0},
    )


class Reports:
    def __init__(self, chain: SimChain) -> None:
        self.chain = chain
        self.lags: list[tuple[int, int]] = []
        """(epoch, slots between the epoch's last slot and the report)."""
        self.ready_slot: int | None = None

    def started(self, *_args: object) -> None:
        self.ready_slot = self.chain.head_slot

    def epoch(self, report: EpochReport) -> None:
        self.lags.append((report.epoch, self.chain.head_slot - report.state_slot))


def _logged(logs: list[dict[str, Any]], event: str, node: str) -> bool:
    return any(e["event"] == event and e.get("node") == node for e in logs)


async def test_a_silent_node_is_failed_over_within_a_slot_or_two() -> None:
    chain = _chain()
    async with silent_node() as silent, SimServer(chain, auto_advance=True) as sim:
        reports = Reports(chain)
        stop = asyncio.Event()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(
                run_daemon(
                    _settings(silent, sim.url),
                    listeners=[listen(reports)],
                    stop=stop,
                    configure_logs=False,
                )
            )
            try:
                await wait_until(lambda: len(reports.lags) >= 4, "four epochs reported", 60)
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=10)
    assert _logged(logs, "beacon_node_down", silent)  # said, not silently waited out
    epochs = [e for e, _ in reports.lags]
    assert epochs == list(range(epochs[0], epochs[0] + len(epochs)))  # none skipped
    # Every epoch that ended after start-up processed within two slots of its end, though the
    # preferred node never answers (start-up itself waits at most one timeout for it).
    assert reports.ready_slot is not None
    ended_after = [(e, lag) for e, lag in reports.lags if (e + 1) * SPE - 1 >= reports.ready_slot]
    assert len(ended_after) >= 2
    assert all(lag <= 2 for _, lag in ended_after), (reports.ready_slot, reports.lags)


async def _readyz(session: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, Any]]:
    async with session.get(base + "/readyz") as resp:
        return resp.status, await resp.json()


async def _readyz_until(
    session: aiohttp.ClientSession, base: str, chain: SimChain, status: int, slots: int
) -> tuple[int, dict[str, Any]]:
    """Poll ``/readyz`` until it answers ``status``; AssertionError after ``slots`` slots."""
    since = chain.head_slot
    answer = await _readyz(session, base)
    for _ in range(10_000):  # bounded; the slot count ends it long before
        if answer[0] == status:
            return chain.head_slot - since, answer[1]
        assert chain.head_slot - since <= slots, f"/readyz not {status} within {slots} slots"
        await asyncio.sleep(0.05)
        answer = await _readyz(session, base)
    raise AssertionError("unreachable")


async def _beacon_up(session: aiohttp.ClientSession, base: str) -> float:
    async with session.get(base + "/metrics") as resp:
        text = await resp.text()
    line = next(ln for ln in text.splitlines() if ln.startswith("stakepool_beacon_up{"))
    return float(line.rsplit(" ", 1)[1])


async def test_readyz_is_503_while_the_only_node_stalls_and_200_after() -> None:
    chain = _chain()
    async with StallingSimServer(chain) as sim:
        urls: list[str] = []
        stop = asyncio.Event()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(
                run_daemon(
                    _settings(sim.url),
                    stop=stop,
                    configure_logs=False,
                    on_listening=urls.append,
                )
            )
            try:
                async with aiohttp.ClientSession() as session:
                    await wait_until(lambda: bool(urls), "HTTP bound", 10)
                    base = urls[0]
                    await _readyz_until(session, base, chain, 200, slots=40)
                    assert await _beacon_up(session, base) == 1.0

                    sim.release.clear()  # the only node stalls
                    noticed, body = await _readyz_until(session, base, chain, 503, slots=4)
                    assert sim.url in body["reason"]
                    assert await _beacon_up(session, base) == 0.0
                    assert _logged(logs, "beacon_node_down", sim.url)

                    await asyncio.sleep(3 * SLOT_MS / 1000)  # the stall lasts a few slots
                    assert (await _readyz(session, base))[0] == 503  # still the truth
                    sim.release.set()
                    await _readyz_until(session, base, chain, 200, slots=4)
                    assert await _beacon_up(session, base) == 1.0
                    assert _logged(logs, "beacon_node_recovered", sim.url)
            finally:
                sim.release.set()
                stop.set()
                await asyncio.wait_for(task, timeout=10)
    assert noticed <= 3
