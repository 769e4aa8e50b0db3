"""The pool ledger on SQLite and on PostgreSQL, side by side in one run.

For each engine (``--engines``) and each size (``--sizes`` delegators):

* start-up: the delegations applied in one transaction (as the daemon's watcher applies a file);
* settlement of one epoch (one write transaction: pool row, 64 validator rows, accumulator
  snapshot), median over ``--epochs`` epochs;
* the API's delegator detail (``/delegators/{id}``: accrued final/total, paid, claimable) p50/p99
  over ``--queries`` random delegators;
* the ledger's size per 10,000 settled epochs (64 validator rows per epoch), measured over
  ``--size-epochs`` epochs on a ledger of 1,000 delegators (the accumulator keeps nothing per
  delegator per epoch, so this does not depend on the delegators): SQLite's file (+ WAL, after a
  checkpoint) against ``pg_total_relation_size`` summed over the schema's tables (heap, TOAST and
  indexes; not the server's WAL, which is recycled).

SQLite runs on a file in a temporary directory; PostgreSQL on a fresh database created through
``--pg-admin-url`` and dropped after. Figures are printed, never asserted; the last lines are one
table with both engines' figures per size.

    .venv/bin/python bench/bench_ledger_engines.py [--sizes 1000,100000,1000000] \
        [--engines sqlite,postgresql] [--pg-admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
from bench_ledger import _delegations, _settle

from stakepool.ledger.store import delegations_sql, ledger_read
from stakepool.service import collector
from stakepool.store.database import Database
from stakepool.store.engine import Connection, dialect_of

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
VALIDATOR_ROWS = 64


@dataclass
class Figures:
    load_s: float = 0.0
    settle_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mb_per_10k: float = 0.0


class Target:
    """Where one engine's fresh databases come from, and how big one is on disk."""

    def __init__(self, engine: str, tmp: Path, admin_url: str) -> None:
        self.engine = engine
        self.tmp = tmp
        self.admin_url = admin_url

    @contextlib.contextmanager
    def fresh(self, label: str) -> Iterator[Database]:
        if self.engine == "sqlite":
            db = Database.open(self.tmp / f"{label}.sqlite")
            try:
                yield db
            finally:
                db.close()
            return
        name = f"stakepool_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            db = Database.open(self.admin_url.rsplit("/", 1)[0] + "/" + name)
            try:
                yield db
            finally:
                db.close()
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def size(self, db: Database) -> int:
        """Bytes the ledger takes now (after the writes are on disk)."""
        if self.engine == "sqlite":
            db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
            path = Path(db.path)
            return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return int(db.read_sync(_pg_size))


def _pg_size(conn: Connection) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
    ).fetchone()
    return int(row[0])


def _settle_after_load(db: Database) -> None:
    """The one-off load leaves work behind that the steady state does not pay for (SQLite: a
    large WAL; PostgreSQL: dirty pages, stale statistics and the autovacuum the load triggers,
    which otherwise run beside the first settlements and double them): settle it first."""
    if dialect_of_db(db) == "sqlite":
        db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    else:
        db.read_sync(lambda c: c.execute("VACUUM (ANALYZE)"))
        db.read_sync(lambda c: c.execute("CHECKPOINT"))


def dialect_of_db(db: Database) -> str:
    return str(db.read_sync(lambda c: dialect_of(c).name))


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3


def run_size(target: Target, n: int, epochs: int, queries: int) -> Figures:
    figures = Figures()
    with target.fresh(f"ledger-{n}") as db:
        delegations = _delegations(n, n)
        with collector.without_full_collection():  # as the daemon's delegations watcher runs it
            start = time.perf_counter()
            db.write_sync(lambda c: delegations_sql.apply_delegations(c, delegations))
            figures.load_s = time.perf_counter() - start
        _settle_after_load(db)
        _settle(db, 0, VALIDATOR_ROWS)  # warm-up
        times = [_settle(db, epoch, VALIDATOR_ROWS) for epoch in range(1, epochs + 1)]
        figures.settle_ms = statistics.median(times) * 1e3
        rng = random.Random(7)
        samples: list[float] = []
        for _ in range(queries):
            delegator = f"d{rng.randrange(n):07d}"
            start = time.perf_counter()
            db.read_sync(partial(ledger_read.delegator, delegator_id=delegator))
            samples.append(time.perf_counter() - start)
        samples.sort()
        figures.p50_ms, figures.p99_ms = _percentile(samples, 0.5), _percentile(samples, 0.99)
    print(
        f"{target.engine:<10}  delegators={n:>9,}  load {figures.load_s:6.2f} s"
        f"  settle median {figures.settle_ms:7.2f} ms/epoch ({epochs} epochs)"
        f"  detail p50 {figures.p50_ms:6.2f} ms p99 {figures.p99_ms:6.2f} ms ({queries} queries)",
        flush=True,
    )
    return figures


def run_growth(target: Target, epochs: int) -> float:
    """MB per 10,000 settled epochs."""
    with target.fresh("size") as db:
        db.write_sync(lambda c: delegations_sql.apply_delegations(c, _delegations(1000, 1)))
        _settle_after_load(db)
        empty = target.size(db)
        for epoch in range(epochs):
            _settle(db, epoch, VALIDATOR_ROWS)
        if target.engine == "postgresql":
            db.read_sync(lambda c: c.execute("CHECKPOINT"))
        grown = target.size(db) - empty
    per_10k = grown * 10_000 / epochs / 1e6
    print(
        f"{target.engine:<10}  ledger size {per_10k:8.1f} MB per 10,000 epochs"
        f"  ({VALIDATOR_ROWS} validator rows/epoch, measured over {epochs} epochs)",
        flush=True,
    )
    return per_10k


def _table(sizes: list[int], engines: list[str], results: dict[tuple[str, int], Figures]) -> None:
    head = "| delegators | figure | " + " | ".join(engines) + " |"
    print()
    print(head)
    print("|---|---|" + "---|" * len(engines))
    rows = (
        ("load (one transaction)", lambda f: f"{f.load_s:.2f} s"),
        ("settlement per epoch (median)", lambda f: f"{f.settle_ms:.2f} ms"),
        ("delegator detail p50", lambda f: f"{f.p50_ms:.2f} ms"),
        ("delegator detail p99", lambda f: f"{f.p99_ms:.2f} ms"),
    )
    for n in sizes:
        for label, show in rows:
            cells = " | ".join(show(results[(e, n)]) for e in engines)
            print(f"| {n:,} | {label} | {cells} |")
    cells = " | ".join(f"{results[(e, 0)].mb_per_10k:.1f} MB" for e in engines)
    print(f"| — | ledger size per 10,000 epochs | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg-admin-url", default=ADMIN_URL)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--size-epochs", type=int, default=2000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = set(engines) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    results: dict[tuple[str, int], Figures] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp_dir:
        targets = [Target(engine, Path(tmp_dir), args.pg_admin_url) for engine in engines]
        for n in sizes:  # both engines at one size before the next: a partial run still compares
            for target in targets:
                results[(target.engine, n)] = run_size(target, n, args.epochs, args.queries)
        for target in targets:
            results[(target.engine, 0)] = Figures(mb_per_10k=run_growth(target, args.size_epochs))
    _table(sizes, engines, results)


if __name__ == "__main__":
    main()
