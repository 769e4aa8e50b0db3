"""``stakepool run`` killed with SIGKILL at a random moment and started again ends with a ledger
identical, row for row, to that of a daemon that ran without interruption.

One simulated chain (the money scenario: a slashing, withdrawal sweeps, a top-up, an exit, an
empty slot, a reorg), served in-process; two ``stakepool run`` processes follow it at once with
their own databases and the same delegations file (delegators joining and leaving by epoch): A
without interruption, B killed at a seeded random moment once its ledger has settled an epoch,
down for a seeded random while, then started again on its database. The chain halts at
``HALT_EPOCH``; once both ledgers settled everything up to it, both stop and every ledger table is
compared (timestamps left out: see ``moneykit.LEDGER_TABLES``).
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money.fleet import config, start, wait_for
from tests.integration.money.moneykit import (
    GWEI,
    SCENARIO,
    SPE,
    VALIDATORS,
    delegations_toml,
    dump_ledger,
    settled,
)
from tests.integration.simkit import HaltingSimServer

SEED = 20261124
SLOT_MS = 250
HALT_EPOCH = 15
"""The chain stops at the first slot of this epoch: ``HALT_EPOCH − 1`` closes, the ledger settles
up to ``HALT_EPOCH − 2``."""
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 7),
    ("carol", 8 * GWEI, 4, None),
    ("carol", 1 * GWEI, 9, None),
)


def _config(tmp: Path, name: str, url: str) -> Path:
    return config(tmp, name, url, tmp / f"{name}.sqlite", pool_id="kill")


def _duties_told(log: Path) -> int:
    """How many ``epoch_duties`` lines (the monitor saved an epoch, then told it) ``log`` has."""
    return sum('"epoch_duties"' in line for line in log.read_text(errors="replace").splitlines())


@pytest.mark.parametrize("moment", ["random", "after_monitor_saved"])
async def test_sigkill_then_restart_gives_the_same_ledger(tmp_path: Path, moment: str) -> None:
    """``random``: a seeded random moment within three epochs; ``after_monitor_saved``: just
    after the monitor saved an epoch, while the ledger fetches that epoch's window (the monitor
    will not redo that epoch, the ledger has not used its verdicts yet)."""
    rng = random.Random(SEED)
    (tmp_path / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=11,
            genesis_time=int(time.time()) + 8,  # both daemons are up before genesis
            scenario=SCENARIO,
            history_epochs=64,  # B catches up after its restart: nothing it needs is pruned
        )
    )
    epoch_seconds = SPE * SLOT_MS / 1000
    last = HALT_EPOCH - 2
    db_a, db_b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    procs: list[subprocess.Popen[bytes]] = []
    codes: list[int] = []
    async with HaltingSimServer(chain, HALT_EPOCH * SPE) as sim:
        try:
            a = start(_config(tmp_path, "a", sim.url), tmp_path / "a.log")
            b = start(_config(tmp_path, "b", sim.url), tmp_path / "b1.log")
            procs = [a, b]
            await wait_for(lambda: settled(db_b)[0] >= 1, "B's first settled epoch", procs, 60)
            if moment == "random":  # within the next three epochs: any part of the work
                await asyncio.sleep(rng.uniform(0.0, 3 * epoch_seconds))
            else:
                told = _duties_told(tmp_path / "b1.log")
                await wait_for(
                    lambda: _duties_told(tmp_path / "b1.log") > told, "B's next epoch", procs, 30
                )
            b.send_signal(signal.SIGKILL)
            assert b.wait(timeout=10) == -signal.SIGKILL
            killed_at = settled(db_b)
            await asyncio.sleep(rng.uniform(0.0, 2 * epoch_seconds))  # down for a while
            b = start(_config(tmp_path, "b", sim.url), tmp_path / "b2.log")
            procs = [a, b]
            await wait_for(
                lambda: settled(db_a)[0] >= last and settled(db_b)[0] >= last,
                f"epoch {last} settled by both",
                procs,
                120,
            )
            # The finalized checkpoint both saw last: give the slower one a moment to apply it.
            await wait_for(
                lambda: settled(db_a)[1] == settled(db_b)[1], "the same finality", procs, 30
            )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            codes = [p.wait(timeout=20) for p in procs]
    assert codes == [0, 0]
    assert killed_at[0] < last  # B really missed epochs while it was down
    dump_a, dump_b = dump_ledger(db_a), dump_ledger(db_b)
    assert [r[0] for r in dump_a["ledger_epochs"]][-1] == last
    assert len(dump_a["ledger_epochs"]) >= 10
    assert dump_a["ledger_epoch_reversals"] == []  # the one-slot reorg changed no settled epoch
    for table in dump_a:
        assert dump_b[table] == dump_a[table], f"{table} differs after the kill and restart"
