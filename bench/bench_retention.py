"""Retention at scale: the roll-up and prune of one statement period ("day") of detail.

A ledger of ``--validators`` pool validators settles ``--days`` periods of ``--period`` epochs
(225 = one mainnet UTC day) through ``ledger_write.settle`` and finalizes them; then the same
``Retention`` the daemon runs (``ledger/retention.py``) rolls every period up and deletes its
detail. Printed per day of epochs: the roll-up with the detail's deletes (read + decode + sum + write +
check + delete) and returning the freed pages (incremental vacuum), and — the figure that says whether settlement and the API are
kept waiting — the longest wait of a small read issued every 10 ms meanwhile on the same database
(they share its one thread). Sizes: the detail's bytes per validator-epoch, the roll-ups' bytes
per validator-day, the file before and after. Figures are printed, never asserted.

The figures are ``bench_ledger_size``'s synthetic epoch (one epoch's rows, settled again under
each epoch number: the roll-up's work does not depend on the values).

    .venv/bin/python bench/bench_retention.py [--validators 100000] [--period 225] [--days 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from stakepool.ledger.retention import Retention, RetentionPolicy
from stakepool.ledger.store import ledger_write
from stakepool.store import disk
from stakepool.store.database import Database

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger_size import POLICY, _input, _table_bytes


def _file_bytes(db: Database) -> int:
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    return os.stat(db.path).st_size


async def _timed(db: Database, retention: Retention) -> tuple[float, float, float, int]:
    """(roll-up + delete s, returning the pages s, longest concurrent read ms, periods)."""
    waits: list[float] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await db.read(lambda c: c.execute("SELECT MAX(epoch) FROM ledger_epochs").fetchone())
            waits.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)

    probe = asyncio.create_task(reader())
    rolled = pruned = 0.0
    periods = 0
    try:
        while True:
            period = await retention.due()
            if period is None:
                break
            t0 = time.perf_counter()
            stepped = await retention.step()
            t1 = time.perf_counter()
            assert stepped == period
            periods += 1
            rolled += t1 - t0
            start = time.perf_counter()
            for _ in range(10_000):
                if await db.write(disk.reclaim) == 0:
                    break
            pruned += time.perf_counter() - start
    finally:
        done.set()
        await probe
    return rolled, pruned, max(waits) * 1000 if waits else 0.0, periods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=100_000)
    parser.add_argument("--period", type=int, default=225)
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    n, period, days = args.validators, args.period, args.days
    epochs = period * days
    base = _input(0, n)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp) / "retention.sqlite")
        settle = []
        for k in range(epochs + 1):  # one more: the last period's epochs are all final
            inp = replace(base, epoch=k, input_digest=f"bench-{k}")
            start = time.perf_counter()
            db.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))
            settle.append(time.perf_counter() - start)
        db.write_sync(lambda c: ledger_write.finalize(c, epochs + 1))
        detail = db.read_sync(partial(_table_bytes, names=("validator_epoch_detail",)))
        before = _file_bytes(db)
        retention = Retention(db, RetentionPolicy(period_epochs=period, detail_epochs=1))
        rolled, pruned, wait_ms, periods = asyncio.run(_timed(db, retention))
        daily = db.read_sync(partial(_table_bytes, names=("validator_daily",)))
        after = _file_bytes(db)
        db.close()
    per_day = max(1, periods)
    print(f"{n} validators, {days} period(s) of {period} epochs, {periods} rolled up")
    print(f"settle ms/epoch (median)          {statistics.median(settle) * 1000:>10.1f}")
    print(f"detail bytes/validator-epoch      {detail / (n * (epochs + 1)):>10.2f}")
    print(f"roll-up + delete s per day        {rolled / per_day:>10.2f}")
    print(f"return pages s per day            {pruned / per_day:>10.2f}")
    print(f"longest concurrent read ms        {wait_ms:>10.1f}")
    print(f"roll-up bytes/validator-day       {daily / (n * per_day):>10.1f}")
    print(f"file MB before / after            {before / 1e6:>10.1f} / {after / 1e6:.1f}")


if __name__ == "__main__":
    main()
