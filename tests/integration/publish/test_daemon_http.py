"""The real daemon against the simulator, scraped over HTTP: what an operator's Prometheus sees."""

from __future__ import annotations

import asyncio
import platform
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from stakepool import __version__
from stakepool.config import Settings, parse_validator_ref
from stakepool.publish.http import HttpServer, build_app
from stakepool.publish.metrics import Metrics
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.publish.promtool import promtool

SLOT_MS = 100
POOL = ["0,vc-1", "1,vc-1", "2", "3,vc-2", "5", "8"]
INDICES = {"0", "1", "2", "3", "5", "8"}
DEADLINE_SECONDS = 30.0


def _settings(url: str, *, limit: int = 64, port: int = 0) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": port},
        metrics={"per_validator_limit": limit},
    )


def _chain() -> SimChain:
    return SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3))


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until true; a deadline bounds the loop (it is not what the test asserts)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class Scraper:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as answer:
            return answer.status, await answer.text()

    async def metrics(self) -> tuple[str, dict[str, Any]]:
        status, text = await self.get("/metrics")
        assert status == 200
        return text, {f.name: f for f in text_string_to_metric_families(text)}

    async def sample(self, name: str, **labels: str) -> float | None:
        _, families = await self.metrics()
        for family in families.values():
            for s in family.samples:
                if s.name == name and s.labels == labels:
                    return float(s.value)
        return None


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def _all_samples(families: dict[str, Any]) -> list[Sample]:
    return [s for f in families.values() for s in f.samples]


async def test_daemon_metrics_health_and_readiness(http_session: aiohttp.ClientSession) -> None:
    server = SimServer(_chain(), auto_advance=True)
    await server.start()
    sim_url = server.url
    await server.stop()  # the port is known, nobody listens yet: the daemon cannot be ready
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(_settings(sim_url), stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        for _ in range(500):  # the server binds before anything else
            if bound or task.done():
                break
            await asyncio.sleep(0.01)
        assert bound, "the HTTP server never said where it listens"
        scrape = Scraper(http_session, bound[0])
        assert await scrape.get("/healthz") == (200, '{"status": "ok"}')
        status, body = await scrape.get("/readyz")
        assert status == 503
        assert "waiting for a beacon node" in body

        await server.start()

        async def ready() -> bool:
            return (await scrape.get("/readyz"))[0] == 200

        await _until(ready)

        async def epoch_processed() -> bool:
            return (await scrape.sample("stakepool_last_processed_epoch") or 0) >= 1

        await _until(epoch_processed)
        text, families = await scrape.metrics()

        # promtool's linter is silent on a clean exposition.
        lint = promtool("check", "metrics", stdin=text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert (lint.stdout + lint.stderr).strip() == ""
        assert "_created" not in text

        types = {name: f.type for name, f in families.items()}
        for name, kind in {
            "stakepool_build_info": "gauge",
            "stakepool_head_slot": "gauge",
            "stakepool_head_epoch": "gauge",
            "stakepool_finalized_epoch": "gauge",
            "stakepool_justified_epoch": "gauge",
            "stakepool_last_processed_epoch": "gauge",
            "stakepool_last_processed_epoch_timestamp_seconds": "gauge",
            "stakepool_event_loop_lag_seconds": "histogram",
            "stakepool_pool_validators": "gauge",
            "stakepool_slashed_validators": "gauge",
            "stakepool_beacon_up": "gauge",
            "stakepool_beacon_score": "gauge",
            "stakepool_beacon_last_success_timestamp_seconds": "gauge",
            "stakepool_beacon_requests": "counter",
            "stakepool_beacon_request_errors": "counter",
            "stakepool_beacon_request_duration_seconds": "histogram",
            "stakepool_attestations": "counter",
            "stakepool_attestation_inclusion_delay_slots": "histogram",
            "stakepool_attestation_misses": "counter",
            "stakepool_attestation_missed_streak": "gauge",
            "stakepool_proposals": "counter",
            "stakepool_sync_committee_signatures": "counter",
            "stakepool_sync_committee_participation_ratio": "gauge",
            "stakepool_slashing_evidence": "counter",
            "stakepool_doppelganger_detections": "counter",
            "stakepool_doppelganger_detected": "gauge",
            "stakepool_unexpected_operations": "counter",
            "stakepool_pool_balance_gwei": "gauge",
            "stakepool_validator_balance_gwei": "gauge",
            "stakepool_validator_info": "gauge",
            "process_resident_memory_bytes": "gauge",
            "python_info": "gauge",
        }.items():
            assert types.get(name) == kind, name

        samples = _all_samples(families)

        def one(name: str, **labels: str) -> float:
            found = [s.value for s in samples if s.name == name and s.labels == labels]
            assert len(found) == 1, (name, labels)
            return float(found[0])

        assert (
            one("stakepool_build_info", version=__version__, python=platform.python_version()) == 1
        )
        assert one("stakepool_beacon_up", node=sim_url) == 1
        assert one("stakepool_beacon_last_success_timestamp_seconds", node=sim_url) > 0
        assert one("stakepool_pool_validators", status="active_ongoing") == len(POOL)
        assert one("stakepool_pool_validators", status="exited_slashed") == 0
        assert one("stakepool_slashed_validators") == 0
        head = one("stakepool_head_slot")
        assert one("stakepool_head_epoch") == head // 8
        assert one("stakepool_last_processed_epoch") < one("stakepool_head_epoch")
        # Up to the limit, every duty family has one series per pool validator (initialised).
        attest = {
            s.labels["validator"] for s in samples if s.name == "stakepool_attestations_total"
        }
        assert attest == INDICES
        streaks = {s.labels["validator"] for s in samples if s.name.endswith("_missed_streak")}
        assert streaks == INDICES
        # No aggregated series below the limit; the operator's labels come in one info family.
        grouped = {s.name for s in samples if "group" in s.labels}
        assert grouped == {"stakepool_validator_info"}
        info = {
            (s.labels["validator"], s.labels["group"])
            for s in samples
            if s.name == "stakepool_validator_info"
        }
        assert info == {(v.split(",")[0], (v.split(",") + ["unlabelled"])[1]) for v in POOL}

        async def head_advanced() -> bool:
            return (await scrape.sample("stakepool_head_slot") or 0) > head

        await _until(head_advanced)

        # Every node gone: the daemon lives on, but is no longer ready, and says why.
        await server.stop()

        async def unready() -> bool:
            return (await scrape.get("/readyz"))[0] == 503

        await _until(unready)
        status, body = await scrape.get("/readyz")
        assert "no beacon node reachable" in body
        assert await scrape.sample("stakepool_beacon_up", node=sim_url) == 0
        assert (await scrape.get("/healthz"))[0] == 200
    finally:
        stop.set()
        code = await asyncio.wait_for(task, timeout=10)
        await server.stop()
    assert code == 0


async def test_above_the_limit_series_are_grouped(http_session: aiohttp.ClientSession) -> None:
    bound: list[str] = []
    stop = asyncio.Event()
    async with SimServer(_chain(), auto_advance=True) as server:
        task = asyncio.create_task(
            run_daemon(
                _settings(server.url, limit=3),
                stop=stop,
                on_listening=bound.append,
                configure_logs=False,
            )
        )
        try:
            for _ in range(500):
                if bound or task.done():
                    break
                await asyncio.sleep(0.01)
            assert bound
            scrape = Scraper(http_session, bound[0])

            async def pool_known() -> bool:
                value = await scrape.sample(
                    "stakepool_attestations_total", group="vc-1", outcome="missed"
                )
                return value is not None

            await _until(pool_known)
            text, families = await scrape.metrics()
        finally:
            stop.set()
            code = await asyncio.wait_for(task, timeout=10)
    assert code == 0
    lint = promtool("check", "metrics", stdin=text)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert (lint.stdout + lint.stderr).strip() == ""
    samples = _all_samples(families)
    assert not any("validator" in s.labels for s in samples)
    groups = {s.labels["group"] for s in samples if s.name == "stakepool_attestations_total"}
    assert groups == {"vc-1", "vc-2", "unlabelled"}
    sizes = {s.labels["group"]: s.value for s in samples if s.name == "stakepool_group_validators"}
    assert sizes == {"vc-1": 2, "vc-2": 1, "unlabelled": 3}
    streak = {s.labels["group"] for s in samples if s.name == "stakepool_attestation_missed_streak"}
    assert streak == groups


async def test_a_taken_port_stops_the_daemon_with_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = _settings("http://127.0.0.1:1", port=port)
        with structlog.testing.capture_logs() as logs:
            code = await asyncio.wait_for(run_daemon(settings, configure_logs=False), timeout=10)
    assert code == 1
    assert [e["port"] for e in logs if e["event"] == "http_bind_failed"] == [port]


async def test_the_demo_server_falls_back_to_an_ephemeral_port() -> None:
    metrics = Metrics()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(
            build_app(metrics.registry, lambda: None), "127.0.0.1", port, fallback_to_ephemeral=True
        )
        await server.start()
        try:
            assert server.port not in (0, port)
            async with aiohttp.ClientSession() as session, session.get(server.url + "/readyz") as r:
                assert r.status == 200
        finally:
            await server.stop()
