"""PostgreSQL's partitioned per-validator detail (migration 0011): what it costs and what it frees.

* migration 0011 on a schema-10 ledger of ``--epochs`` epochs of detail: seconds, and seconds per
  GB of detail (the rows are copied and compared under the writer's lock: settlement waits);
* the prune of one partition's worth of rolled-up epochs (1024), both ways on the same table:
  DELETE of the rows (the path of a partly-pruned partition) against DETACH + DROP of the
  partition (``stakepool_detail_drop_partitions``): the time, and the detail's
  ``pg_total_relation_size`` (heap, TOAST, indexes, over every partition) before and after;
* the write path's partition check (``stakepool_detail_partitions`` when the partition exists),
  median of 2,000 calls, beside a bare round trip.

The blobs are ``--blob-kb`` KB of random bytes (a zlib-compressed epoch of 100,000 validators is
~280 KB), the epochs rows copied from one settled epoch: the work does not depend on the figures.
A fresh database per run through ``--pg-admin-url``, dropped after. Figures are printed, never
asserted.

    .venv/bin/python bench/bench_detail_partitions.py [--epochs 400] [--blob-kb 280]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.store import ledger_write
from stakepool.store.database import Database, bundled_migrations
from stakepool.store.engine import Connection

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger_size import _input

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SPAN = 1024
DETAIL_BYTES = (
    "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0)"
    " FROM pg_partition_tree('validator_epoch_detail')"
)


@contextlib.contextmanager
def _fresh(admin: str) -> Iterator[str]:
    name = "stakepool_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _epoch_row(admin: str) -> tuple[Any, ...]:
    """One settled epoch's ``ledger_epochs`` row, to be copied under other epoch numbers."""
    with _fresh(admin) as url:
        db = Database.open(url)
        try:
            db.write_sync(partial(ledger_write.settle, inp=_input(0, 10), policy=LedgerPolicy()))
            return tuple(
                db.read_sync(lambda c: c.execute("SELECT * FROM ledger_epochs").fetchone())
            )
        finally:
            db.close()


def _fill(db: Database, row: tuple[Any, ...], epochs: range, blob: bytes) -> None:
    marks = ", ".join("?" for _ in row)

    def write(conn: Connection, k: int) -> None:
        conn.execute(f"INSERT INTO ledger_epochs VALUES ({marks})", (k, *row[1:]))
        if db.schema_version > 10:
            conn.execute("SELECT stakepool_detail_partitions(?, ?)", (k, k))
        rotated = blob[k % 997 :] + blob[: k % 997]  # no two blobs alike
        conn.execute(
            "INSERT INTO validator_epoch_detail VALUES (?, ?, ?, NULL)", (k, 100_000, rotated)
        )

    for k in epochs:
        db.write_sync(partial(write, k=k))


def _bytes(db: Database, sql: str = DETAIL_BYTES) -> int:
    return int(db.read_sync(lambda c: c.execute(sql).fetchone()[0]))


def bench_migration(admin: str, row: tuple[Any, ...], epochs: int, blob: bytes) -> None:
    with _fresh(admin) as url:
        ten = Database.open(url, migrations=bundled_migrations("postgresql")[:10])
        try:
            _fill(ten, row, range(epochs), blob)
            size = _bytes(ten, "SELECT pg_total_relation_size('validator_epoch_detail')")
        finally:
            ten.close()
        start = time.perf_counter()
        db = Database.open(url)
        took = time.perf_counter() - start
        db.close()
    print(
        f"migration 0011: {epochs} epochs, {size / 1e6:.1f} MB of detail in {took:.2f} s"
        f" ({took / size * 1e9:.1f} s per GB)",
        flush=True,
    )


def _rolled_up(db: Database, first: int, last: int) -> None:
    """The epochs final and one checked roll-up over them (what retention leaves before it
    deletes), written directly: the prune's cost is measured, not the roll-up's."""

    def mark(conn: Connection) -> None:
        conn.execute(
            "UPDATE ledger_epochs SET status = 'final' WHERE epoch BETWEEN ? AND ?", (first, last)
        )
        conn.execute(
            "INSERT INTO validator_rollups"
            " (period, first_epoch, last_epoch, epochs, validators, reward_gwei)"
            " VALUES (?, ?, ?, ?, 0, '0')",
            (first, first, last, last - first + 1),
        )

    db.write_sync(mark)


def bench_prune(admin: str, row: tuple[Any, ...], blob: bytes) -> None:
    """Two spans: the first's rows deleted (16 epochs per transaction, as retention does), the
    second's partition dropped; the detail's size after each."""
    with _fresh(admin) as url:
        db = Database.open(url)
        try:
            _fill(db, row, range(2 * SPAN + 1), blob)  # the epoch past them: a third partition
            _rolled_up(db, 0, 2 * SPAN - 1)
            db.read_sync(lambda c: c.execute("CHECKPOINT"))
            before = _bytes(db)
            start = time.perf_counter()
            for low in range(0, SPAN, 16):
                db.write_sync(
                    lambda c, lo=low: c.execute(
                        "DELETE FROM validator_epoch_detail WHERE epoch BETWEEN ? AND ?",
                        (lo, lo + 15),
                    )
                )
            deleted_s = time.perf_counter() - start
            after_delete = _bytes(db)
            start = time.perf_counter()
            dropped = db.write_sync(
                lambda c: c.execute(
                    "SELECT stakepool_detail_drop_partitions(?)", (2 * SPAN - 1,)
                ).fetchall()
            )
            dropped_s = time.perf_counter() - start
            after_drop = _bytes(db)
        finally:
            db.close()
    print(
        f"prune of {SPAN} epochs by DELETE: {deleted_s:.2f} s, detail {before / 1e6:.1f} MB ->"
        f" {after_delete / 1e6:.1f} MB (dead tuples: nothing returned)",
        flush=True,
    )
    print(
        f"prune of {SPAN} epochs by DROP ({len(dropped)} partitions, the emptied one with it):"
        f" {dropped_s * 1000:.1f} ms, detail {after_delete / 1e6:.1f} MB ->"
        f" {after_drop / 1e6:.1f} MB",
        flush=True,
    )


def bench_check(admin: str) -> None:
    with _fresh(admin) as url:
        db = Database.open(url)
        try:

            def run(conn: Connection) -> dict[str, float]:
                conn.execute("SELECT stakepool_detail_partitions(5000, 5000)")
                out = {}
                for label, sql in (
                    ("partition check (exists)", "SELECT stakepool_detail_partitions(?, ?)"),
                    ("bare round trip", "SELECT ?::bigint + ?"),
                ):
                    times = []
                    for _ in range(2000):
                        start = time.perf_counter()
                        conn.execute(sql, (5000, 5000)).fetchone()
                        times.append(time.perf_counter() - start)
                    out[label] = statistics.median(times) * 1000
                return out

            for label, ms in db.write_sync(run).items():
                print(f"write path: {label:<25} median {ms:.3f} ms (2000 calls)", flush=True)
        finally:
            db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--blob-kb", type=int, default=280)
    parser.add_argument("--pg-admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    blob = os.urandom(args.blob_kb * 1000)
    row = _epoch_row(args.pg_admin_url)
    bench_check(args.pg_admin_url)
    bench_migration(args.pg_admin_url, row, args.epochs, blob)
    bench_prune(args.pg_admin_url, row, blob)


if __name__ == "__main__":
    main()
