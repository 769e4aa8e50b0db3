"""Statements and commitments at scale: the commit at finalization, one statement, one proof.

* committing one period (every delegator's statement, the leaves, the root; it runs inside the
  finalization's transaction on the database thread) for 1k, 10k and 100k delegators;
* one delegator's statements over the committed periods, and one proof (latency p50/p99).

Real SQLite files in a temporary directory; figures are printed, never asserted.

    .venv/bin/python bench/bench_statements.py [--sizes 1000,10000,100000] [--period 225]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from functools import partial
from pathlib import Path

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import delegations_sql, ledger_write, statements_sql
from stakepool.store.database import Database

POLICY = LedgerPolicy(fee_bps=1000)
ETH = 10**9


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"


def bench(tmp: Path, n: int, period: int, queries: int) -> None:
    db = Database.open(tmp / f"ledger-{n}.sqlite")
    rng = random.Random(n)
    # A tenth of the delegators join or leave inside the first period.
    starts = [rng.randint(0, period - 1) if i % 10 == 0 else 0 for i in range(n)]
    entries = tuple(
        Delegation(
            f"d{i:07d}",
            rng.randint(1, 64) * ETH,
            start,
            start + rng.randint(1, period) if i % 20 == 0 else None,
        )
        for i, start in enumerate(starts)
    )
    db.write_sync(lambda c: delegations_sql.apply_delegations(c, DelegationSet(entries, "bench")))
    for epoch in range(2 * period):
        inp = EpochSettlementInput(epoch, 9_261 * 64 + epoch - (10**7 if epoch == 7 else 0), None)
        db.write_sync(partial(ledger_write.settle, inp=inp, policy=POLICY))
    db.write_sync(lambda c: ledger_write.finalize(c, period + 1))
    start = time.perf_counter()
    done = db.write_sync(
        lambda c: statements_sql.commit_final_periods(c, period, outbox_max_rows=10)
    )
    committed = time.perf_counter() - start
    print(
        f"commit      delegators={n:>9,}  {committed * 1e3:9.1f} ms for period 0"
        f" ({period} epochs, {done[0].leaves:,} leaves)"
    )
    ids = [f"d{rng.randrange(n):07d}" for _ in range(queries)]
    times: list[float] = []
    for d in ids:
        start = time.perf_counter()
        db.read_sync(lambda c, d=d: statements_sql.delegator_statements(c, d, period, 0, 1))
        times.append(time.perf_counter() - start)
    print(f"statements  delegators={n:>9,}  {_percentiles(times)}  (2 periods of {period})")
    times = []
    for d in ids:
        start = time.perf_counter()
        db.read_sync(lambda c, d=d: statements_sql.proof(c, d, period, 0))
        times.append(time.perf_counter() - start)
    print(f"proof       delegators={n:>9,}  {_percentiles(times)}")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--period", type=int, default=225)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            bench(Path(tmp), n, args.period, args.queries)


if __name__ == "__main__":
    main()
