"""A key imported before its validator exists, then deposited: monitored and paid from activation.

The operator imports validator 64's key into the validator client while the chain has 64
validators (0..63): the chain does not know the key. Its 32 ETH deposit request is in the block of
slot 9; the simulator's deposit queue creates validator 64 once that slot is finalized, queues it
for activation the epoch after and activates it ``1 + MAX_SEED_LOOKAHEAD`` epochs after its
eligibility is finalized. The daemon, which has been asking the keymanager every epoch, adds it
to the pool at the next epoch boundary after it appears; the ledger pays it exactly what the
chain's own books say from then on (nothing while pending, rewards from activation), and the
monitor judges no attestation of it before its activation epoch (no false "missed").
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from stakepool.sim.scenario import ScheduledDeposit, SimScenario
from stakepool.sim.server import SimServer
from tests.integration.money.moneykit import sim_truth
from tests.integration.monitor.test_lifecycle_edges import _attestation_counts, _rows
from tests.integration.service.test_validator_client_keys import Daemon

SLOT_MS = 150
TOKEN = "ab" * 32
NEW = 64
"""Not in the genesis registry (64 validators: 0..63)."""
FAR = 2**64 - 1
DEADLINE = 120.0


async def test_a_key_deposited_after_import_is_paid_from_its_activation(tmp_path: Path) -> None:
    scenario = SimScenario(deposits=(ScheduledDeposit(NEW, 32 * 10**9, 9),))
    chain = SimChain(
        SimConfig(
            validators=64,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=3,
            scenario=scenario,
            history_epochs=64,  # every epoch's books stay readable for the check below
        )
    )
    sim = SimServer(chain, auto_advance=True)
    keymanager = SimKeymanager(TOKEN, local=[1])
    keymanager.import_local(NEW)  # imported before the chain knows it
    token_file = tmp_path / "api-token.txt"
    token_file.write_text(TOKEN + "\n")
    await sim.start()
    await keymanager.start()
    database = tmp_path / "ledger.sqlite"
    settings = Settings(
        beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref("0")]},
        ledger={"database": str(database)},
        http={"port": 0},
        validator_client=[{"name": "vc-1", "url": keymanager.url, "token_file": str(token_file)}],
    )
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            deadline = time.monotonic() + DEADLINE
            activation: int | None = None
            rows: list[dict[str, Any]] = []
            while activation is None or not rows or rows[-1]["epoch"] < activation + 3:
                assert time.monotonic() < deadline, (
                    "the new validator was not paid after activation"
                )
                assert not task.done()
                await asyncio.sleep(0.2)
                if chain.validator_count > NEW and int(chain.head.activation_epoch[NEW]) != FAR:
                    activation = int(chain.head.activation_epoch[NEW])
                if bound:
                    rows = await _rows(session, bound[0], NEW)
            assert activation is not None
            base = bound[0]
            daemon = Daemon(session, base, database)
            (added,) = [c for c in daemon.journal() if c.validator_index == NEW]
            assert (added.change, added.sources) == ("added", ("vc:vc-1",))
            joined = added.effective_epoch
            assert joined < activation  # in the pool while still pending: the edge is exercised
            by_epoch = {r["epoch"]: r for r in rows}
            assert min(by_epoch) == joined  # paid from the boundary it joined at, not before
            settled = [e for e in sorted(by_epoch) if e <= activation + 3]
            assert settled == list(range(joined, activation + 4))
            for epoch in settled:
                row = by_epoch[epoch]
                # Exact: what the chain's own books say, every epoch (0 while pending).
                assert int(row["reward_gwei"]) == sim_truth(chain, epoch, NEW), (epoch, row)
                if epoch < activation:
                    assert int(row["reward_gwei"]) == 0
                    assert row["attestation_included"] is None  # no duty: no verdict at all
                else:
                    assert row["attestation_included"] is True, (epoch, row)
            # The votes of its first active epoch are paid at the transition that ends the next
            # one, i.e. in window ``activation + 2``: the first money it earns.
            assert [int(by_epoch[e]["reward_gwei"]) > 0 for e in settled if e >= activation] == [
                False,
                False,
                True,
                True,
            ]
            counts = await _attestation_counts(session, base)
            assert counts.get((str(NEW), "missed"), 0) == 0, counts
            assert counts.get((str(NEW), "included"), 0) >= 3
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await keymanager.stop()
        await sim.stop()
