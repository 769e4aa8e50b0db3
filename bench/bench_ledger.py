"""The pool ledger at scale: settlement per epoch vs delegators, delegator queries, DB size.

* start-up: the delegations file (1k, 100k, 1M delegators) parsed and applied in one transaction;
* restart: the same file read, previewed and applied again from a later boundary (no change);
* settlement of one epoch (one transaction: pool row, validator rows, accumulator snapshot) with
  1k, 100k and 1M delegators — it must be flat: the accumulator is O(1) in delegators;
* ``delegators/{id}`` (detail: accrued final/total, paid, claimable) and ``/epochs`` latency
  p50/p99 with 1M delegators;
* pool totals with 1M delegators: the full recount (the dust's definition: one pass over every
  delegator), the kept totals' first answer, then each epoch settled (``credited.CreditedTotals``);
* ledger file size per 10,000 settled epochs (without and with per-validator rows).

Real SQLite files in a temporary directory; figures are printed, never asserted.

    .venv/bin/python bench/bench_ledger.py [--sizes 1000,100000,1000000] [--epochs 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from stakepool.ledger.delegations import Delegation, DelegationSet, load_file
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import delegations_sql, ledger_read, ledger_write
from stakepool.ledger.store.credited import CreditedTotals
from stakepool.service import collector
from stakepool.store.database import Database

POLICY = LedgerPolicy(fee_bps=1000)
ETH = 10**9


def _delegations(n: int, seed: int) -> DelegationSet:
    rng = random.Random(seed)
    entries = tuple(
        Delegation(f"d{i:07d}", rng.randint(1, 64) * ETH, rng.randint(0, 5)) for i in range(n)
    )
    return DelegationSet(entries, "bench")


def _input(epoch: int, validators: int) -> EpochSettlementInput:
    rows = tuple(
        ValidatorEpochRow(v, 9_261 + v, {"head": 2_392, "target": 4_465, "source": 2_404}, 0, True)
        for v in range(validators)
    )
    return EpochSettlementInput(epoch, 9_261 * max(validators, 1) + epoch, 10**16 + 7, rows)


def _settle(db: Database, epoch: int, validators: int) -> float:
    inp = _input(epoch, validators)
    start = time.perf_counter()
    db.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))
    return time.perf_counter() - start


def bench_settlement(tmp: Path, n: int, epochs: int) -> Database:
    db = Database.open(tmp / f"ledger-{n}.sqlite")
    # As the daemon starts: the delegations file read, parsed and applied in one transaction.
    path = tmp / f"delegations-{n}.csv"
    with path.open("w") as out:
        out.write("delegator,amount_gwei,from_epoch,to_epoch\n")
        out.writelines(
            f"{d.delegator},{d.amount_gwei},{d.from_epoch},\n" for d in _delegations(n, n).entries
        )
    with collector.without_full_collection():  # as the daemon's delegations watcher runs it
        start = time.perf_counter()
        delegations = load_file(path)
        parsed = time.perf_counter() - start
        db.write_sync(lambda c: delegations_sql.apply_delegations(c, delegations))
        loaded = time.perf_counter() - start
    print(
        f"start-up    delegators={n:>9,}  delegations file loaded in {loaded:.2f} s"
        f"  (parse {parsed:.2f} s, apply in one transaction {loaded - parsed:.2f} s)"
    )
    # The one-off load leaves a large WAL behind; checkpoint it and warm up before timing.
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    _settle(db, 0, 64)
    times = [_settle(db, epoch, 64) for epoch in range(1, epochs + 1)]
    print(
        f"settlement  delegators={n:>9,}  median {statistics.median(times) * 1e3:7.2f} ms/epoch"
        f"  (64 validator rows, {epochs} epochs)"
    )
    return db


def bench_restart(db: Database, path: Path, n: int) -> None:
    """A restart: the watcher reads the same file again, previews it (the large-change hold)
    and applies it from the ledger's next epoch, where nothing changes (after the queries, which it
    would otherwise find with colder caches)."""
    with collector.without_full_collection():
        start = time.perf_counter()
        delegations = load_file(path)
        parsed = time.perf_counter()
        with contextlib.suppress(delegations_sql.Preview):
            db.write_sync(lambda c: delegations_sql.preview_delegations(c, delegations))
        previewed = time.perf_counter()
        result = db.write_sync(lambda c: delegations_sql.apply_delegations(c, delegations))
        done = time.perf_counter()
    assert not result.changes
    print(
        f"restart     delegators={n:>9,}  the same file again in {done - start:.2f} s"
        f"  (parse {parsed - start:.2f} s, preview {previewed - parsed:.2f} s,"
        f" apply {done - previewed:.2f} s)"
    )


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"


def bench_queries(db: Database, n: int, samples: int, next_epoch: int) -> None:
    rng = random.Random(7)
    ids = [f"d{rng.randrange(n):07d}" for _ in range(samples)]
    detail: list[float] = []
    epochs: list[float] = []
    for delegator in ids:
        start = time.perf_counter()
        db.read_sync(partial(ledger_read.delegator, delegator_id=delegator))
        detail.append(time.perf_counter() - start)
        start = time.perf_counter()
        db.read_sync(
            partial(ledger_read.delegator_epochs, delegator_id=delegator, epochs=EpochRange())
        )
        epochs.append(time.perf_counter() - start)
    print(f"query       delegators={n:>9,}  detail  {_percentiles(detail)}  ({samples} queries)")
    print(f"query       delegators={n:>9,}  epochs  {_percentiles(epochs)}")
    start = time.perf_counter()
    # A cursor is the last id of a page the API handed out: one from the middle.
    cursor = f"d{n // 2:07d}"
    page = db.read_sync(partial(ledger_read.delegators, cursor=cursor, limit=100))
    print(
        f"query       delegators={n:>9,}  page of {len(page.items)}"
        f"  {(time.perf_counter() - start) * 1e3:.2f} ms"
    )
    start = time.perf_counter()
    db.read_sync(partial(ledger_read.pool_totals, pool_id="bench"))
    print(
        f"pool totals delegators={n:>9,}  recount {time.perf_counter() - start:.2f} s"
        " (ledger_read.credited_gwei: one pass over every schedule, the definition)"
    )
    credited = CreditedTotals()
    start = time.perf_counter()
    db.read_sync(credited.refresh)
    print(
        f"pool totals delegators={n:>9,}  kept, first answer {time.perf_counter() - start:.2f} s"
        " (every schedule read once)"
    )
    kept: list[float] = []
    for epoch in range(next_epoch, next_epoch + 3):
        _settle(db, epoch, 64)
        start = time.perf_counter()
        db.read_sync(lambda c: ledger_read.pool_totals(c, "bench", credited.refresh(c)))
        kept.append(time.perf_counter() - start)
    print(
        f"pool totals delegators={n:>9,}  kept, after an epoch settled: median"
        f" {statistics.median(kept) * 1e3:.0f} ms (3 epochs; full passes {credited.full_passes})"
    )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def bench_size(tmp: Path, epochs: int, validators: int) -> None:
    path = tmp / f"size-{validators}.sqlite"
    db = Database.open(path)
    db.write_sync(lambda c: delegations_sql.apply_delegations(c, _delegations(1000, 1)))
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    empty = _size(path)
    for epoch in range(epochs):
        _settle(db, epoch, validators)
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    grown = _size(path) - empty
    per_10k = grown * 10_000 / epochs / 1e6
    print(
        f"db size     {validators:>3} validator rows/epoch: {per_10k:8.1f} MB per 10,000 epochs"
        f"  (measured over {epochs} epochs)"
    )
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--size-epochs", type=int, default=2000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp_dir:
        tmp = Path(tmp_dir)
        for n in sizes:
            db = bench_settlement(tmp, n, args.epochs)
            if n == max(sizes):
                bench_queries(db, n, args.queries, args.epochs + 1)
            bench_restart(db, tmp / f"delegations-{n}.csv", n)
            db.close()
        bench_size(tmp, args.size_epochs, 0)
        bench_size(tmp, args.size_epochs, 64)


if __name__ == "__main__":
    main()
