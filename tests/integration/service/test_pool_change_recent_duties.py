"""A pool change costs no verdict on a node that serves duties for recent epochs only.

Stock Lodestar answers attester duties for the previous, current and next epoch only, and
proposer duties for the current and next: a duty cache dropped at a pool change and asked again
when the epoch is judged gets a 500, and every member's verdict of that epoch was lost (seen on
the Lodestar devnet). Here the simulator behaves the same way; a key imported into the validator
client while the daemon runs joins at the next boundary, and every member's ledger row around the
boundary still carries its attestation verdict, the new member's from its first epoch on.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from tests.integration.service.test_validator_client_keys import Daemon
from tests.integration.simkit import Handler, InterceptingSimServer

SLOT_MS = 150
TOKEN = "ef" * 32
IMPORTED = 5
DEADLINE = 90.0
DUTIES = re.compile(r"^/eth/v1/validator/duties/(attester|proposer)/(\d+)$")


class RecentDutiesNode(InterceptingSimServer):
    """Refuses duties of epochs the way stock Lodestar does (out of its shuffling window)."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        found = DUTIES.match(request.path)
        if found is not None:
            kind, epoch, current = found.group(1), int(found.group(2)), self.chain.head_epoch
            oldest = current - 1 if kind == "attester" else current
            if not oldest <= epoch <= current + 1:
                return web.json_response(
                    {"code": 500, "message": f"epoch {epoch} out of range, current {current}"},
                    status=500,
                )
        return await handler(request)


async def test_a_key_imported_while_running_costs_no_member_a_verdict(tmp_path: Path) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3))
    sim = RecentDutiesNode(chain, auto_advance=True)
    keymanager = SimKeymanager(TOKEN, local=[1, 2])
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
    deadline = time.monotonic() + DEADLINE
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while not bound:
                assert time.monotonic() < deadline
                assert not task.done()
                await asyncio.sleep(0.1)
            daemon = Daemon(session, bound[0], database)
            while (await daemon.settled() or 0) < 3:  # past the start-up's epochs
                assert time.monotonic() < deadline, "the ledger did not start"
                await asyncio.sleep(0.1)
            keymanager.import_local(IMPORTED)
            rows: list[dict[str, Any]] = []
            while len(rows) < 3:
                assert time.monotonic() < deadline, "the imported key was not paid"
                assert not task.done()
                await asyncio.sleep(0.1)
                rows = await daemon.rows(IMPORTED)
            (added,) = [c for c in daemon.journal() if c.validator_index == IMPORTED]
            joined = added.effective_epoch
            assert rows[0]["epoch"] == joined
            # The new member is judged from its first epoch on.
            assert [r["attestation_included"] for r in rows[:3]] == [True, True, True], rows
            # And no member lost the verdicts of the epochs around the boundary.
            for member in (0, 1, 2):
                seen = {r["epoch"]: r["attestation_included"] for r in await daemon.rows(member)}
                around = {e: seen.get(e) for e in range(joined - 2, joined + 3)}
                assert all(v is True for v in around.values()), (member, around)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await keymanager.stop()
        await sim.stop()
