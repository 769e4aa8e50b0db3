"""``stakepool ledger export … | head -1``: the reader closes the pipe after one line, and the
export stops quietly with exit 0, as any Unix tool, instead of a BrokenPipeError traceback."""

from __future__ import annotations

import shlex
import subprocess
from functools import partial
from pathlib import Path

from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import delegations_sql, ledger_write
from tests.integration.processes import STAKEPOOL, clean_env
from tests.integration.store.ledgerkit import open_db
from tests.unit.ledger import worked_example as ex

VALIDATORS = 64
EPOCHS = 200  # 12800 validator rows, ~0.4 MB of CSV: far more than a pipe buffer holds


def _big_ledger(path: Path) -> None:
    db = open_db(path)
    db.write_sync(
        lambda c: delegations_sql.apply_delegations(c, DelegationSet(ex.DELEGATIONS, "example"))
    )
    policy = LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive")
    for epoch in range(EPOCHS):
        rows = tuple(ValidatorEpochRow(i, 10_000 + i) for i in range(VALIDATORS))
        inp = EpochSettlementInput(epoch, sum(r.reward_gwei for r in rows), 0, rows)
        db.write_sync(partial(ledger_write.settle, inp=inp, policy=policy))
    db.close()


def test_export_into_head_exits_0_without_a_traceback(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    _big_ledger(ledger)
    export = [*STAKEPOOL, "ledger", "export", "--from", "0", "--to", str(EPOCHS - 1)]
    export += ["--kind", "validators", "--database", str(ledger)]
    full = subprocess.run(export, capture_output=True, env=clean_env(), timeout=120, check=True)
    assert len(full.stdout) > 256 * 1024  # the pipe must really break, not absorb it all

    # A real shell pipeline; pipefail makes the export's own status the pipeline's.
    line = f"{shlex.join(export)} | head -1"
    piped = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == full.stdout.decode().splitlines(keepends=True)[0]
    assert "Traceback" not in piped.stderr
    assert "BrokenPipeError" not in piped.stderr
