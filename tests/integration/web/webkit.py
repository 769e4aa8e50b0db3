"""A daemon on the simulator with the web page on, frozen once some periods are final, and the
system Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.money.moneykit import GWEI, POOL, SCENARIO, VALIDATORS, delegations_toml

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POOL_ID = "sim-pool"
PERIOD = 3
LAST_FINAL = 8
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 5),
    ("carol", 8 * GWEI, 4, None),
)


def artifacts_dir(tmp_path: Path) -> Path:
    base = os.environ.get("STAKEPOOL_ARTIFACTS")
    out = Path(base) / "web" if base else tmp_path / "artifacts"
    out.mkdir(parents=True, exist_ok=True)
    return out


def settings(sim_url: str, tmp: Path, **web: object) -> Settings:
    return Settings(
        beacon={"urls": [sim_url], "timeout_seconds": 5, "retries": 2},
        pool={
            "id": POOL_ID,
            "validators": [parse_validator_ref(v) for v in POOL],
            "delegations_file": str(tmp / "delegations.toml"),
            "delegations_stable_seconds": 0,  # written whole before the start: alice from epoch 0
            "fee_bps": 1000,
            "loss_policy": "operator_first",
            "operator_bond_gwei": 5_000_000_000,
        },
        http={"port": 0},
        ledger={"database": str(tmp / "ledger.sqlite"), "statement_period_epochs": PERIOD},
        web={"notice_period_epochs": 450, **web},
    )


async def _json(http: aiohttp.ClientSession, url: str) -> object:
    async with http.get(url) as r:
        assert r.status == 200, (url, r.status)
        return await r.json()


@asynccontextmanager
async def frozen_daemon(tmp: Path, **web: object) -> AsyncIterator[str]:
    """The daemon's base URL, its chain stopped after epoch ``LAST_FINAL`` is final so the page and
    the API are read over the same ledger."""
    (tmp / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    async with SimServer(chain, auto_advance=True) as sim:
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        daemon = asyncio.create_task(
            run_daemon(
                settings(sim.url, tmp, **web),
                stop=stop,
                configure_logs=False,
                on_listening=listening.set_result,
            )
        )
        try:
            base = await asyncio.wait_for(listening, 20)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                deadline = time.monotonic() + 120
                while True:
                    status = await _json(http, f"{base}/api/v1/status")
                    final = status["data"]["last_final_epoch"]  # type: ignore[index]
                    if final is not None and final >= LAST_FINAL:
                        break
                    assert time.monotonic() < deadline, f"epoch {LAST_FINAL} not final in time"
                    await asyncio.sleep(0.3)
                # Freeze the chain: no new slot, so the ledger settles what is closed and stops.
                ticker = sim._ticker
                assert ticker is not None
                ticker.cancel()
                previous = None
                for _ in range(100):  # bounded: ~20 s
                    now = await _json(http, f"{base}/api/v1/status")
                    if now == previous:
                        break
                    previous = now
                    await asyncio.sleep(0.2 if previous is None else 1.0)
            yield base
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, 20) == 0
