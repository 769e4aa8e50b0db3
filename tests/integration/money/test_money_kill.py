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
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money.moneykit import (
    GWEI,
    POOL,
    SCENARIO,
    SPE,
    VALIDATORS,
    delegations_toml,
    dump_ledger,
    settled,
)
from tests.integration.simkit import HaltingSimServer

STAKEPOOL = [sys.executable, "-m", "stakepool"]
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


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STAKEPOOL_")}


def _config(tmp: Path, name: str, url: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[beacon]\nurls = ["{url}"]\n'
        f'[pool]\nid = "kill"\nvalidators = {POOL}\nfee_bps = 500\n'
        f'delegations_file = "{tmp / "delegations.toml"}"\n'
        "delegations_stable_seconds = 0\n"  # written whole before the start
        f'[http]\nport = 0\n[ledger]\ndatabase = "{tmp / name}.sqlite"\n'
        '[log]\nformat = "json"\n'
    )
    return path


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )


async def _wait_for(
    check: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]], s: float
) -> None:
    deadline = time.monotonic() + s
    while not check():
        for p in procs:
            assert p.poll() is None, f"{p.args!r} exited with {p.returncode} waiting for {what}"
        assert time.monotonic() < deadline, f"not within {s} s: {what}"
        await asyncio.sleep(0.05)


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
            a = _start(_config(tmp_path, "a", sim.url), tmp_path / "a.log")
            b = _start(_config(tmp_path, "b", sim.url), tmp_path / "b1.log")
            procs = [a, b]
            await _wait_for(lambda: settled(db_b)[0] >= 1, "B's first settled epoch", procs, 60)
            if moment == "random":  # within the next three epochs: any part of the work
                await asyncio.sleep(rng.uniform(0.0, 3 * epoch_seconds))
            else:
                told = _duties_told(tmp_path / "b1.log")
                await _wait_for(
                    lambda: _duties_told(tmp_path / "b1.log") > told, "B's next epoch", procs, 30
                )
            b.send_signal(signal.SIGKILL)
            assert b.wait(timeout=10) == -signal.SIGKILL
            killed_at = settled(db_b)
            await asyncio.sleep(rng.uniform(0.0, 2 * epoch_seconds))  # down for a while
            b = _start(_config(tmp_path, "b", sim.url), tmp_path / "b2.log")
            procs = [a, b]
            await _wait_for(
                lambda: settled(db_a)[0] >= last and settled(db_b)[0] >= last,
                f"epoch {last} settled by both",
                procs,
                120,
            )
            # The finalized checkpoint both saw last: give the slower one a moment to apply it.
            await _wait_for(
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
