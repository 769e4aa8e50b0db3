"""No false alarms at the edges of a validator's life, with the real daemon on a simulated chain.

Validators 60 and 61 wait in the activation queue until epoch 3; validator 62 exits voluntarily
(Electra exit queue: its exit epoch is computed by the simulator, read back from the chain) and is
withdrawn two epochs later;
validator 5 is active throughout. A pending or exited validator has no attestation duty, so the
daemon must neither count a miss nor write a "not included" verdict for it, and must judge it
exactly from its activation epoch and up to the epoch before its exit.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.encode import STATUSES, status_codes
from stakepool.sim.presets import merged, spec_for
from stakepool.sim.scenario import ScheduledActivation, ScheduledExit, SimScenario
from stakepool.sim.server import SimServer

SLOT_MS = 150
ACTIVATION = 3
LAST_EPOCH = 10
DEADLINE = 90.0
FAR_FUTURE = 2**64 - 1


async def _rows(session: aiohttp.ClientSession, base: str, index: int) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/validators/{index}/epochs") as answer:
        if answer.status == 404:
            return []
        data: list[dict[str, Any]] = (await answer.json())["data"]
        return data


async def _attestation_counts(
    session: aiohttp.ClientSession, base: str
) -> dict[tuple[str, str], float]:
    async with session.get(f"{base}/metrics") as answer:
        text = await answer.text()
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "stakepool_attestations_total":
                counts[(s.labels["validator"], s.labels["outcome"])] = s.value
    return counts


async def test_pending_and_exited_validators_have_no_duty_and_no_miss(tmp_path: Path) -> None:
    scenario = SimScenario(
        activations=(ScheduledActivation((60, 61), ACTIVATION),),
        exits=(ScheduledExit(62, announce_slot=9, include_slot=9),),
    )
    # A withdrawability delay of 2 epochs brings "withdrawn" within reach too.
    spec = merged(spec_for("minimal", SLOT_MS), MIN_VALIDATOR_WITHDRAWABILITY_DELAY=2)
    chain = SimChain(SimConfig(validators=64, spec=spec, seed=3, scenario=scenario))
    sim = SimServer(chain, auto_advance=True)
    await sim.start()
    settings = Settings(
        beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref(v) for v in ("5", "60", "61", "62")]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
    )
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            deadline = time.monotonic() + DEADLINE
            while (
                not bound
                or not (rows := await _rows(session, bound[0], 5))
                or (rows[-1]["epoch"] < LAST_EPOCH)
            ):
                assert time.monotonic() < deadline, "the ledger did not reach the last epoch"
                assert not task.done()
                await asyncio.sleep(0.2)
            base = bound[0]
            exit_epoch = int(chain.head.exit_epoch[62])
            assert ACTIVATION < exit_epoch < LAST_EPOCH  # the scenario spans both edges
            code = status_codes(chain.head, chain.head_epoch, np.array([62]), FAR_FUTURE)[0]
            assert STATUSES[code].startswith("withdrawal_")  # exited, then withdrawable

            def verdicts(rows: list[dict[str, Any]]) -> dict[int, bool | None]:
                return {
                    r["epoch"]: r["attestation_included"] for r in rows if r["epoch"] <= LAST_EPOCH
                }

            for pending in (60, 61):
                seen = verdicts(await _rows(session, base, pending))
                # No duty before activation: no verdict at all (not "missed"), and exactly one
                # included vote per epoch from the activation epoch on.
                assert {e: v for e, v in seen.items() if e < ACTIVATION} == {
                    e: None for e in seen if e < ACTIVATION
                }
                assert all(seen[e] is True for e in range(ACTIVATION, LAST_EPOCH + 1)), seen
            exiting = verdicts(await _rows(session, base, 62))
            # The ledger's first window is epoch 1 (epoch 0 has no balance before it).
            assert all(exiting[e] is True for e in range(1, exit_epoch)), exiting
            assert all(exiting.get(e) is None for e in range(exit_epoch, LAST_EPOCH + 1)), exiting
            assert all(v is True for v in verdicts(await _rows(session, base, 5)).values())

            counts = await _attestation_counts(session, base)
            for v in ("5", "60", "61", "62"):
                assert counts.get((v, "missed"), 0) == 0, (v, counts)
            # Duties counted exactly: validator 5 attested in every judged epoch from 0 on, 60 in
            # those from its activation on, 62 in those before its exit.
            judged = counts[("5", "included")]
            assert counts[("60", "included")] == counts[("61", "included")] == judged - ACTIVATION
            assert counts[("62", "included")] == exit_epoch
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await sim.stop()
