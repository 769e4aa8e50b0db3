"""``stakepool ledger migrate`` at scale: a SQLite ledger with many delegators and settled epochs
moved into a fresh PostgreSQL database, copied and verified in one transaction.

The ledger is built as the daemon builds it (the delegations file applied in one transaction,
then epochs settled one by one); the move is ``store.transfer.migrate_ledger``, the command's own
code. Figures are printed, never asserted.

    .venv/bin/python bench/bench_ledger_migrate.py [--delegators 1000000] [--epochs 200]
        [--validators 64] [--admin postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

import psycopg

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import delegations_sql, ledger_write
from stakepool.store.database import Database
from stakepool.store.transfer import migrate_ledger

POLICY = LedgerPolicy(fee_bps=1000)
ETH = 10**9


def _build(path: Path, delegators: int, epochs: int, validators: int) -> float:
    rng = random.Random(delegators)
    entries = tuple(
        Delegation(f"d{i:07d}", rng.randint(1, 64) * ETH, rng.randint(0, 5))
        for i in range(delegators)
    )
    db = Database.open(path)
    start = time.perf_counter()
    db.write_sync(lambda c: delegations_sql.apply_delegations(c, DelegationSet(entries, "bench")))
    for epoch in range(epochs):
        rows = tuple(
            ValidatorEpochRow(v, 9_261 + v, {"head": 2_392, "target": 4_465}, 0, True)
            for v in range(validators)
        )
        inp = EpochSettlementInput(epoch, 9_261 * validators + epoch, 10**16 + 7, rows)
        db.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))
    db.read_sync(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    db.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delegators", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--validators", type=int, default=64)
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = "stakepool_bench_" + uuid.uuid4().hex[:12]
    url = args.admin.rsplit("/", 1)[0] + "/" + name
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "ledger.sqlite"
        built = _build(source, args.delegators, args.epochs, args.validators)
        size = source.stat().st_size
        print(
            f"source      delegators={args.delegators:,}  epochs={args.epochs}"
            f"  validators={args.validators}: {size / 1e6:.1f} MB, built in {built:.1f} s"
        )
        with psycopg.connect(args.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            start = time.perf_counter()
            copied = migrate_ledger(str(source), url, None)
            took = time.perf_counter() - start
        finally:
            with psycopg.connect(args.admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rows = sum(t.rows for t in copied)
    biggest = sorted(copied, key=lambda t: -t.rows)[:3]
    print(
        f"migrate     {rows:,} rows in {len(copied)} tables copied and verified in {took:.2f} s"
        f"  ({rows / took:,.0f} rows/s, {size / 1e6 / took:.1f} MB/s of SQLite file)"
    )
    print("largest     " + ", ".join(f"{t.name} {t.rows:,}" for t in biggest))


if __name__ == "__main__":
    main()
