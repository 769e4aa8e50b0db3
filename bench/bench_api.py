"""The ledger HTTP API at scale, over loopback HTTP: what a client waits for, and what the loop does.

A real SQLite ledger with N delegators (default 100,000) and 64 validators over 30 settled epochs,
served by the daemon's own aiohttp app (``build_app(..., api=LedgerApi(...))``) on 127.0.0.1;
requests are sequential from one aiohttp client in the same process:

* ``GET /api/v1/delegators/{id}`` and ``/epochs`` latency p50/p99 (random delegators);
* ``GET /api/v1/delegators?limit=1000`` (one page), ``/pool/epochs`` (30 rows),
  ``/validators/{index}/epochs`` and ``/validators`` (first call fills the per-epoch cache);
* ``GET /api/v1/pool`` the first time (every schedule read once for the dust, off the event loop)
  — and meanwhile ``/healthz`` answered over and over: its worst latency shows whether the event
  loop stayed free while the ledger worked; then once more, and again after one more epoch settled
  (the kept totals brought up to date: one pass over every delegator's entry).

Figures are printed, never asserted.

    .venv/bin/python bench/bench_api.py [--delegators 100000] [--queries 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.store.database import Database

ETH = 10**9
EPOCHS = 30
VALIDATORS = 64


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"


def _epoch_input(epoch: int) -> EpochSettlementInput:
    rows = tuple(
        ValidatorEpochRow(v, 9_261 + v, {"head": 2_392, "target": 4_465}, 2_404 + v, True)
        for v in range(VALIDATORS)
    )
    return EpochSettlementInput(epoch, 9_261 * VALIDATORS + epoch, 10**16, rows)


async def _populate(store: SqliteLedgerStore, n: int) -> None:
    rng = random.Random(n)
    entries = tuple(
        Delegation(f"d{i:07d}", rng.randint(1, 64) * ETH, rng.randint(0, 5)) for i in range(n)
    )
    await store.apply_delegations(DelegationSet(entries, "bench"))
    for epoch in range(EPOCHS):
        await store.settle(_epoch_input(epoch))
    await store.finalize(EPOCHS - 5)


async def _timed(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with session.get(url) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
    return time.perf_counter() - start


async def _once(session: aiohttp.ClientSession, url: str, label: str) -> None:
    print(f"{label:<44} {(await _timed(session, url)) * 1e3:9.2f} ms")


async def run(n: int, queries: int, tmp: Path) -> None:
    db = Database.open(tmp / "ledger.sqlite")
    store = SqliteLedgerStore(db, pool_id="bench", policy=LedgerPolicy(fee_bps=1000))
    start = time.perf_counter()
    await _populate(store, n)
    print(
        f"ledger: {n:,} delegators, {EPOCHS} epochs of {VALIDATORS} validators"
        f" (built in {time.perf_counter() - start:.1f} s)"
    )
    api = LedgerApi(store, pool_id="bench", token=None)
    server = HttpServer(build_app(CollectorRegistry(), lambda: None, api=api), "127.0.0.1", 0)
    await server.start()
    base = server.url + "/api/v1"
    try:
        async with aiohttp.ClientSession() as session:
            # /pool uncached while /healthz is hammered: does the event loop stay free?
            pool = asyncio.create_task(_timed(session, base + "/pool"))
            health: list[float] = []
            while not pool.done() and len(health) < 100_000:
                health.append(await _timed(session, server.url + "/healthz"))
            print(
                f"{'GET /pool (first: every schedule read once)':<44} {(await pool) * 1e3:9.2f} ms"
            )
            if health:
                print(
                    f"{'  meanwhile GET /healthz':<44} {len(health)} answers, {_percentiles(health)},"
                    f" max {max(health) * 1e3:.2f} ms"
                )
            await _once(session, base + "/pool", "GET /pool (cached)")
            # The next epoch settles: the first /pool after it brings the kept totals up to
            # date (one pass over every delegator's entry, no schedule read).
            await store.settle(_epoch_input(EPOCHS))
            await _once(session, base + "/pool", "GET /pool (an epoch later: kept totals)")
            await _once(session, base + "/pool", "GET /pool (the same epoch again)")
            await _once(session, base + "/validators", "GET /validators (fills the cache)")
            await _once(session, base + "/validators", "GET /validators (cached)")
            await _once(session, base + "/pool/epochs", f"GET /pool/epochs ({EPOCHS + 1} rows)")
            await _once(
                session,
                base + "/validators/7/epochs",
                f"GET /validators/7/epochs ({EPOCHS + 1} rows)",
            )
            await _once(
                session,
                f"{base}/delegators?limit=1000&cursor=d{n // 2:07d}",
                "GET /delegators?limit=1000",
            )
            rng = random.Random(7)
            ids = [f"d{rng.randrange(n):07d}" for _ in range(queries)]
            detail = [await _timed(session, f"{base}/delegators/{i}") for i in ids]
            epochs = [await _timed(session, f"{base}/delegators/{i}/epochs") for i in ids]
            print(f"{'GET /delegators/{id}':<44} {_percentiles(detail)}  ({queries} requests)")
            print(f"{'GET /delegators/{id}/epochs':<44} {_percentiles(epochs)}")
    finally:
        await server.stop()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delegators", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp_dir:
        asyncio.run(run(args.delegators, args.queries, Path(tmp_dir)))


if __name__ == "__main__":
    main()
