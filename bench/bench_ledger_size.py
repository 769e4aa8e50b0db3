"""Per-validator detail on disk: bytes per validator-epoch and write time per settled epoch.

Three layouts of the same figures, each in its own SQLite file (WAL, synchronous=FULL, as the
daemon opens it), ``--validators`` pool validators over ``--epochs`` epochs:

* ``rows+json`` — the old layout (one row per validator and epoch, ``components_json`` text,
  primary key + by-epoch index), written as the old ``ledger_write.settle`` wrote it;
* ``int-columns`` — candidate (a): one row per validator and epoch, every figure an integer
  column (components as fixed columns), ``WITHOUT ROWID``, no JSON;
* ``packed`` — candidate (b), the layout the ledger uses: one row per epoch holding packed,
  zlib-compressed integer columns over the pool's sorted indices (``detail_sql.write_epoch``,
  packed from the rows: the path an irregular epoch takes; ``settle`` packs a regular one from
  its columns, ``store/detail_columns.py``).

"write ms" is the detail table's write alone (building its rows or blobs + INSERT + COMMIT), the
part the layout changes. For ``packed`` the whole ``ledger_write.settle`` is timed too, each in
its own transaction as the daemon runs it: ``settle`` with the input's digest given, and
``settle+digest`` without one, as the feed's inputs come (the digest of the figures themselves is
then part of the write: ``settle_digest``), the pool row, the bounds, the validator totals and the
detail; ``settle tx`` the same settlement's transaction alone, what needs no database (columns,
digest, blobs: ``prepared_epoch``) done before it as ``SqliteLedger.settle`` does; ``finalize`` is the next transaction of each epoch (``ledger_write.finalize``: the epoch
made final, its rewards moved to the validators' final totals).

Bytes are the table's (and its indexes') pages from ``dbstat``, so the database's other tables do
not count. Figures are medians of ``--repeat`` runs; they are printed, never asserted.

The figures: 90 % of validators at 32 ETH earning the same base figures, 10 % with a larger
effective balance (scaled figures), 3 % missing an attestation (negative source/target), the
512-member sync committee, 32 proposers per epoch, residuals of a few Gwei.

    .venv/bin/python bench/bench_ledger_size.py [--validators 100000] [--epochs 4] [--repeat 3]
        [--layouts "settle tx,finalize"] [--aged 82125]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.settlement import EpochSettlementInput, LedgerState, ValidatorEpochRow
from stakepool.ledger.store import detail_sql, ledger_read, ledger_write
from stakepool.store.database import Database

try:  # an older daemon/ (before/after figures) prepares nothing: its "settle tx" is left out
    from stakepool.ledger.store.prepared_epoch import prepare
except ImportError:
    prepare = None  # type: ignore[assignment]
try:  # nor keeps the pool's sums between settles
    from stakepool.ledger.store.bounds import PoolSums
except ImportError:
    PoolSums = None  # type: ignore[assignment,misc]

POLICY = LedgerPolicy(fee_bps=1000)
LOOKUP = 777
"""The validator whose history is read back (the API's ``/validators/{index}/epochs``)."""
NAMES = ("head", "inactivity", "proposer", "slashing_penalty", "source", "sync", "target")


def _input(epoch: int, n: int) -> EpochSettlementInput:
    rng = random.Random(epoch)
    sync = set(rng.sample(range(n), min(512, n)))
    proposers = set(rng.sample(range(n), min(32, n)))
    rows = []
    for v in range(n):
        scale = 1 if v % 10 else rng.randint(1, 64)
        missed = rng.random() < 0.03
        comp = {
            "head": 0 if missed else 2_392 * scale,
            "inactivity": 0,
            "proposer": rng.randint(30_000, 60_000) if v in proposers else 0,
            "slashing_penalty": 0,
            "source": (-2_404 if missed else 2_404) * scale,
            "sync": rng.choice((21_000, 21_001)) if v in sync else 0,
            "target": (-4_465 if missed else 4_465) * scale,
        }
        residual = rng.randint(0, 7)
        rows.append(
            ValidatorEpochRow(
                v,
                sum(comp.values()) + residual,
                comp,
                residual,
                not missed,
                int(v in proposers),
                0,
            )
        )
    cl = sum(r.reward_gwei for r in rows)
    return EpochSettlementInput(epoch, cl, 10**16 + 7, tuple(rows), input_digest=f"bench-{epoch}")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


_OLD = """CREATE TABLE validator_epochs (epoch INTEGER NOT NULL, validator_index INTEGER NOT NULL,
 reward_gwei INTEGER NOT NULL, components_json TEXT, residual_gwei INTEGER,
 attestation_included INTEGER, proposals INTEGER NOT NULL DEFAULT 0,
 proposals_missed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (validator_index, epoch))
 STRICT, WITHOUT ROWID;
CREATE INDEX validator_epochs_by_epoch ON validator_epochs (epoch);"""

_COLS = """CREATE TABLE validator_epochs (epoch INTEGER NOT NULL, validator_index INTEGER NOT NULL,
 reward_gwei INTEGER NOT NULL, residual_gwei INTEGER, attestation_included INTEGER,
 proposals INTEGER NOT NULL, proposals_missed INTEGER NOT NULL, has_components INTEGER NOT NULL,
 c_head INTEGER, c_inactivity INTEGER, c_proposer INTEGER, c_slashing_penalty INTEGER,
 c_source INTEGER, c_sync INTEGER, c_target INTEGER, PRIMARY KEY (epoch, validator_index))
 STRICT, WITHOUT ROWID;"""


def _old_rows(inp: EpochSettlementInput) -> list[tuple[object, ...]]:
    return [
        (
            inp.epoch,
            v.validator_index,
            v.reward_gwei,
            None
            if v.components_gwei is None
            else json.dumps(v.components_gwei, sort_keys=True, separators=(",", ":")),
            v.residual_gwei,
            None if v.attestation_included is None else int(v.attestation_included),
            v.proposals,
            v.proposals_missed,
        )
        for v in inp.validators
    ]


def _col_rows(inp: EpochSettlementInput) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for v in inp.validators:
        comp = v.components_gwei or {}
        att = None if v.attestation_included is None else int(v.attestation_included)
        out.append(
            (
                inp.epoch,
                v.validator_index,
                v.reward_gwei,
                v.residual_gwei,
                att,
                v.proposals,
                v.proposals_missed,
                int(v.components_gwei is not None),
                *tuple(comp.get(k) for k in NAMES),
            )
        )
    return out


def _table_bytes(conn: sqlite3.Connection, names: tuple[str, ...]) -> int:
    marks = ",".join("?" for _ in names)
    row = conn.execute(
        f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})",
        names,
    ).fetchone()
    return int(row[0] or 0)


def _run_sql(
    path: Path,
    schema: str,
    rows: Callable[[EpochSettlementInput], list[tuple[object, ...]]],
    inputs: list[EpochSettlementInput],
) -> tuple[float, list[float], float | None]:
    conn = _connect(path)
    conn.executescript(schema)
    width = len(rows(inputs[0])[0])
    sql = f"INSERT INTO validator_epochs VALUES ({','.join('?' * width)})"
    times = []
    for inp in inputs:
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows(inp))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    size = _table_bytes(conn, ("validator_epochs", "validator_epochs_by_epoch"))
    read = None
    if schema == _OLD:  # the old reader: by primary key, components decoded from JSON
        start = time.perf_counter()
        for r in conn.execute(
            "SELECT * FROM validator_epochs WHERE validator_index = ? ORDER BY epoch", (LOOKUP,)
        ):
            json.loads(r[3])
        read = (time.perf_counter() - start) / len(inputs)
    conn.close()
    return size, times, read


_PACKED = """CREATE TABLE validator_epoch_detail (epoch INTEGER PRIMARY KEY,
 validators INTEGER NOT NULL, packed BLOB NOT NULL, explanation BLOB) STRICT;"""


def _run_packed(
    path: Path, inputs: list[EpochSettlementInput]
) -> tuple[float, list[float], float | None]:
    conn = _connect(path)
    conn.executescript(_PACKED)
    times = []
    for inp in inputs:
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        detail_sql.write_epoch(conn, inp.epoch, inp.validators)
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    size = _table_bytes(conn, ("validator_epoch_detail",))
    conn.close()
    return size, times, None


def _run_settle(
    path: Path,
    inputs: list[EpochSettlementInput],
    *,
    finalize: bool = False,
    prepared: bool = False,
    aged: int = 0,
) -> tuple[float, list[float], float | None]:
    """The ledger's own write path: bytes of its detail table, time of the whole settlement (or,
    ``finalize``, of the finalization that follows each; ``prepared``: of its transaction alone,
    the epoch prepared before it and the pool's sums kept between settles, as
    ``SqliteLedger.settle`` does). ``aged``: the ledger holds that many final epochs first."""
    db = Database.open(path)
    if aged:
        db.write_sync(partial(_age, epochs=aged))
        inputs = [replace(inp, epoch=aged + inp.epoch) for inp in inputs]
    times = []
    pool = None
    for inp in inputs:
        # Only when asked: the bench also runs against an older daemon/ (before/after figures).
        write = partial(ledger_write.settle, inp=inp, policy=POLICY)
        if prepared:
            write = partial(write, prepared=prepare(inp))
            if PoolSums is not None:  # the first settle reads every final epoch, the next few
                pool = PoolSums(None if pool is None else pool.final)
                write = partial(write, pool_sums=pool)
        start = time.perf_counter()
        db.write_sync(write)
        settled = time.perf_counter()
        db.write_sync(partial(ledger_write.finalize, finalized_epoch=inp.epoch + 1))
        done = time.perf_counter()
        times.append(done - settled if finalize else settled - start)
    start = time.perf_counter()
    db.read_sync(lambda c: ledger_read.validator_epochs(c, LOOKUP, EpochRange()))
    read = (time.perf_counter() - start) / len(inputs)
    db.close()
    conn = sqlite3.connect(path)
    size = _table_bytes(conn, ("validator_epoch_detail",))
    conn.close()
    return size, times, read


def _age(conn: sqlite3.Connection, epochs: int) -> None:
    """``epochs`` final pool rows (no validators): the ledger's age, which its reads of
    ``ledger_epochs`` see (a year of mainnet epochs is 82,125)."""
    conn.executemany(
        "INSERT INTO ledger_epochs (epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei,"
        " fee_gwei, bond_delta_gwei, unassigned_gwei, distributed_gwei, total_weight_gwei,"
        " delegators, acc_scaled, dust_delta_scaled, state_json, input_digest, settled_at,"
        " finalized_at) VALUES (?, 'final', 123456789, 98765432, 222222221, 22222222, 0,"
        " 199999999, 0, 0, 0, '0', '0', ?, ?, '2026-12-07T00:00:00.000Z',"
        " '2026-12-07T00:00:00.000Z')",
        [(k, LedgerState().to_json(), f"aged-{k}") for k in range(epochs)],
    )
    ledger_write.finalize(conn, epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layouts", default="", help="comma-separated rows to run (default: all)")
    parser.add_argument(
        "--aged", type=int, default=0, help="final epochs the settle rows' ledger holds first"
    )
    args = parser.parse_args()
    n, epochs = args.validators, args.epochs
    inputs = [_input(k, n) for k in range(epochs)]
    own = [replace(inp, input_digest="") for inp in inputs]  # as the feed gives them
    cells = n * epochs
    aged = f", the settle rows after {args.aged} final epochs" if args.aged else ""
    print(f"{n} validators x {epochs} epochs, median of {args.repeat} runs{aged}")
    print(
        f"{'layout':<13} {'bytes/validator-epoch':>21} {'write ms/epoch':>15} {'read ms/epoch':>14}"
    )
    print("(settle = packed through the whole ledger_write.settle: pool row, totals, detail;")
    print(" settle+digest = the same, the digest of the figures computed as for the feed's input;")
    print(" settle tx = settle+digest's transaction alone, the epoch prepared before it;")
    print(" finalize = the finalization of each settled epoch;")
    print(" read = one validator's history, per epoch read: the API's per-validator history)")
    layouts: list[tuple[str, Callable[[Path], tuple[float, list[float], float | None]]]] = [
        ("rows+json", lambda p: _run_sql(p, _OLD, _old_rows, inputs)),
        ("int-columns", lambda p: _run_sql(p, _COLS, _col_rows, inputs)),
        ("packed", lambda p: _run_packed(p, inputs)),
        ("settle", lambda p: _run_settle(p, inputs, aged=args.aged)),
        ("settle+digest", lambda p: _run_settle(p, own, aged=args.aged)),
        ("settle tx", lambda p: _run_settle(p, own, prepared=True, aged=args.aged)),
        ("finalize", lambda p: _run_settle(p, inputs, finalize=True, aged=args.aged)),
    ]
    wanted = {name.strip() for name in args.layouts.split(",") if name.strip()}
    if prepare is None:
        wanted = (wanted or {name for name, _run in layouts}) - {"settle tx"}
    for name, run in layouts:
        if wanted and name not in wanted:
            continue
        sizes, writes, reads = [], [], []
        for r in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                size, times, read = run(Path(tmp) / f"{name}-{r}.sqlite")
            sizes.append(size / cells)
            writes.append(statistics.median(times) * 1000)
            if read is not None:
                reads.append(read * 1000)
        shown = f"{statistics.median(reads):>14.2f}" if reads else f"{'-':>14}"
        print(
            f"{name:<13} {statistics.median(sizes):>21.1f} {statistics.median(writes):>15.1f}"
            f" {shown}"
        )


if __name__ == "__main__":
    main()
