"""A ledger writer killed with SIGKILL at a random point and restarted ends row-for-row identical to
an uninterrupted run (the restart replays every epoch from the start: settled ones are no-ops)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from stakepool.store.database import Database
from tests.integration.store.ledgerkit import dump

EPOCHS = 200

_WRITER = """
import sys
from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import delegations_sql, ledger_write
from stakepool.store.database import Database

db = Database.open(sys.argv[1])
policy = LedgerPolicy(fee_bps=750, loss_policy="operator_first", operator_bond_gwei=50_000)
entries = tuple(
    Delegation(f"d{i}", 10**9 * (1 + i % 7), i % 9, None if i % 4 else 20 + i) for i in range(200)
)
# Applied at the ledger's next epoch, as the daemon does at start: a restart changes nothing.
db.write_sync(lambda c: delegations_sql.apply_delegations(c, DelegationSet(entries, "file")))
for epoch in range(int(sys.argv[2])):
    reward = (epoch * 7919) % 100_003 - (30_000 if epoch % 11 == 0 else 0)
    rows = tuple(ValidatorEpochRow(v, reward // 4 + v, {"head": v}, 0, True) for v in range(4))
    inp = EpochSettlementInput(epoch, sum(r.reward_gwei for r in rows), 10**9 + epoch, rows)
    db.write_sync(lambda c, inp=inp: ledger_write.settle(c, inp, policy))
    if epoch % 5 == 4:
        db.write_sync(lambda c, e=epoch: ledger_write.finalize(c, e - 1))
db.close()
"""


def _writer(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(EPOCHS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_to_end(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path), str(EPOCHS)],
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


def _settled(path: Path) -> int:
    if not path.exists():
        return 0
    db = Database.open(path)
    try:
        return int(
            db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM ledger_epochs").fetchone()[0])
        )
    finally:
        db.close()


def test_sigkill_at_a_random_point_then_restart_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    reference = tmp_path / "reference.sqlite"
    _run_to_end(reference)

    killed = tmp_path / "killed.sqlite"
    rng = random.Random()
    outcomes = []
    for _round in range(3):
        target = rng.randrange(1, EPOCHS)
        proc = _writer(killed)
        for _ in range(2400):  # bounded wait for the writer to reach the random target
            if proc.poll() is not None or _settled(killed) >= target:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait(timeout=60))
    assert -signal.SIGKILL in outcomes, outcomes  # at least one writer really died mid-run
    _run_to_end(killed)  # the restart that runs to the end

    a, b = Database.open(reference), Database.open(killed)
    try:
        assert dump(a) == dump(b)
        assert len(dump(a)[0]) == EPOCHS
    finally:
        a.close()
        b.close()
