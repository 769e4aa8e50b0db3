"""The web page at scale, over loopback HTTP: what a browser waits for the server-rendered HTML.

A real SQLite ledger with N delegators (default 10,000) and 64 validators over two statement
periods (period ``--period`` epochs, the first final and committed), served by the daemon's app
with the page mounted (``mount_web``) on 127.0.0.1; sequential requests from one aiohttp client:

* ``GET /`` (totals, up to 1000 epoch rows, per-day sums, the latest commitment, two SVG charts);
* ``GET /delegators/{id}`` (detail, statements, epochs, the newest proof) for random delegators;
* ``GET /delegators/{id}/statements.csv``.

Figures are printed, never asserted.

    .venv/bin/python bench/bench_web.py [--delegators 10000] [--period 32] [--queries 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.chain.bus import EventBus
from stakepool.config import Settings
from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.publish.web import mount_web
from stakepool.store.database import Database

ETH = 10**9
VALIDATORS = 64


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"


async def _timed(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with session.get(url) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
    return time.perf_counter() - start


async def run(n: int, period: int, queries: int, tmp: Path) -> None:
    settings = Settings(
        pool={"fee_bps": 1000},
        ledger={"database": str(tmp / "ledger.sqlite"), "statement_period_epochs": period},
        web={"network_refresh_seconds": 0},
    )
    db = Database.open(tmp / "ledger.sqlite")
    store = SqliteLedgerStore(
        db, pool_id="bench", policy=settings.pool.policy(), period_epochs=period
    )
    rng = random.Random(n)
    entries = tuple(
        Delegation(f"d{i:07d}", rng.randint(1, 64) * ETH, rng.randint(0, 3)) for i in range(n)
    )
    await store.apply_delegations(DelegationSet(entries, "bench"))
    start = time.perf_counter()
    for epoch in range(2 * period):
        rows = tuple(ValidatorEpochRow(v, 9_261 + v) for v in range(VALIDATORS))
        await store.settle(EpochSettlementInput(epoch, 9_261 * VALIDATORS + epoch, None, rows))
    await store.finalize(period + 1)
    print(f"ledger: {n} delegators, {2 * period} epochs in {time.perf_counter() - start:.1f} s")
    app = build_app(
        CollectorRegistry(), lambda: None, api=LedgerApi(store, pool_id="bench", token=None)
    )
    mount_web(app, settings, store, EventBus(), client=None, spec=lambda: None, pool=frozenset)
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            first = await _timed(session, f"{server.url}/")
            print(f"{'GET / (first: counts validators)':<44} {first * 1e3:9.2f} ms")
            pool = [await _timed(session, f"{server.url}/") for _ in range(queries)]
            print(f"{'GET /':<44} {_percentiles(pool)}")
            ids = [f"d{rng.randrange(n):07d}" for _ in range(queries)]
            pages = [await _timed(session, f"{server.url}/delegators/{i}") for i in ids]
            print(f"{'GET /delegators/{id}':<44} {_percentiles(pages)}")
            csvs = [
                await _timed(session, f"{server.url}/delegators/{i}/statements.csv") for i in ids
            ]
            print(f"{'GET /delegators/{id}/statements.csv':<44} {_percentiles(csvs)}")
    finally:
        await server.stop()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delegators", type=int, default=10_000)
    parser.add_argument("--period", type=int, default=32)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.delegators, args.period, args.queries, Path(tmp)))


if __name__ == "__main__":
    main()
