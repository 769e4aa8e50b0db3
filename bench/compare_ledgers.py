"""The ledger of a 20-epoch simulated run, written by two versions of the daemon side by side.

One simulated chain (the money tests' scenario: a slashing, withdrawal sweeps, a top-up, an exit,
an empty slot, a reorg) served in-process; two ``stakepool run`` processes follow it at once with
their own databases and the same delegations file: ``--before`` runs the daemon from another
source tree (``PYTHONPATH``: e.g. an export of main), the other the tree this script is in. Once
both settled every epoch up to ``--epochs``, every ledger table is compared row for row
(timestamps left out: ``tests/integration/money/moneykit.LEDGER_TABLES``), and the detail's packed
blobs byte for byte (``validator_epoch_detail``: the decoded rows alone would not show a change of
the packing that still reads back the same). Prints the row counts and the verdict per table;
exits 1 on any difference.

    git archive main daemon | tar -x -C /tmp/main-src
    .venv/bin/python bench/compare_ledgers.py --before /tmp/main-src/daemon [--epochs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money.moneykit import POOL, SCENARIO, SPE, VALIDATORS, dump_ledger, settled
from tests.integration.money.test_money_kill import DELEGATIONS
from tests.integration.simkit import HaltingSimServer

SLOT_MS = 250
Rows = list[tuple[object, ...]]


def _detail_blobs(path: Path) -> Rows:
    """Each epoch's packed detail as stored (epoch, validators, SHA-256 of each blob)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT epoch, validators, packed, explanation FROM validator_epoch_detail"
            " ORDER BY epoch"
        ).fetchall()
    finally:
        conn.close()
    return [
        (e, n, hashlib.sha256(p).hexdigest(), None if x is None else hashlib.sha256(x).hexdigest())
        for e, n, p, x in rows
    ]


def _config(tmp: Path, name: str, url: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[beacon]\nurls = ["{url}"]\n'
        f'[pool]\nid = "cmp"\nvalidators = {POOL}\nfee_bps = 500\n'
        f'delegations_file = "{tmp / "delegations.toml"}"\n'
        "delegations_stable_seconds = 0\n"
        f'[http]\nport = 0\n[ledger]\ndatabase = "{tmp / name}.sqlite"\n'
        '[log]\nformat = "json"\n'
    )
    return path


def _start(config: Path, log: Path, pythonpath: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAKEPOOL_")}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "stakepool", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def compare(before: str, epochs: int, tmp: Path) -> bool:
    (tmp / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=11,
            genesis_time=int(time.time()) + 8,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    halt = epochs + 2
    db_a, db_b = tmp / "before.sqlite", tmp / "after.sqlite"
    async with HaltingSimServer(chain, halt * SPE) as sim:
        procs = [
            _start(_config(tmp, "before", sim.url), tmp / "before.log", before),
            _start(_config(tmp, "after", sim.url), tmp / "after.log", None),
        ]
        try:
            deadline = time.monotonic() + (halt + 4) * SPE * SLOT_MS / 1000 + 120
            while not (settled(db_a)[0] >= epochs and settled(db_b)[0] >= epochs):
                for p in procs:
                    assert p.poll() is None, f"a daemon exited: see {tmp}/*.log"
                assert time.monotonic() < deadline, "not settled in time"
                await asyncio.sleep(0.2)
            # The same finality applied by both: another process's database, polled.
            while settled(db_a)[1] != settled(db_b)[1] and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            codes = [p.wait(timeout=30) for p in procs]
    print(f"both daemons stopped cleanly: {codes == [0, 0]} (exit codes {codes})")
    a, b = dump_ledger(db_a), dump_ledger(db_b)
    a["validator_epoch_detail"], b["validator_epoch_detail"] = (
        _detail_blobs(db_a),
        _detail_blobs(db_b),
    )
    same = True
    for table in a:
        verdict = "identical" if a[table] == b[table] else "DIFFERENT"
        same = same and a[table] == b[table]
        print(
            f"{table:<24} before {len(a[table]):>5} rows, after {len(b[table]):>5} rows: {verdict}"
        )
    print(f"settled epochs: {[r[0] for r in a['ledger_epochs']]}")
    return same and codes == [0, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--before", required=True, help="PYTHONPATH of the other daemon's source")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        same = asyncio.run(compare(args.before, args.epochs, Path(tmp)))
    print("ledgers identical row for row" if same else "LEDGERS DIFFER")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
