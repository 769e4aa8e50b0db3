"""Keys from stock Lodestar's Keymanager API (v1.5.1, ``lodestar dev --keymanager true``).

The devnet's in-process validator client runs the interop keys of validators 0..55 and serves the
standard Keymanager API with its own bearer token file. The daemon, given only a
``[[validator_client]]`` entry (no ``[pool] validators``), takes those 56 keys as the pool. A key
imported into the running validator client (validator 60's EIP-2335 keystore, made by the kit's
``interop-keystore.mjs``; the client then starts validating it) is monitored and paid from the
next epoch boundary, without a restart or a config edit. (Retiring a deleted key is covered by
the simulator's tests only: v1.5.1 answers ``deleted`` to ``DELETE /eth/v1/keystores`` for a key
it has been validating with, yet keeps listing it and validating with it, so stakepool rightly
keeps it; see docs/validator-clients.md.)

(A remote key with no signer behind it is not used here: stock Lodestar v1.5.1's validator client
then stops attesting for every key it runs, tried on this kit.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from stakepool.config import Settings
from stakepool.service.root import run_daemon
from tests.e2e.conftest import Devnet
from tests.integration.service.test_validator_client_keys import Daemon

IMPORTED = 60
"""Not run by the devnet's validator client (0..55 are)."""
SPE = 8
DEADLINE = 480.0
PASSWORD = "stakepool-e2e"

# pytest-timeout's default is 300 s: starting, joining and five paid epochs take ~12 of 16 s.
pytestmark = pytest.mark.timeout(600)


async def _until(check: Callable[[], Awaitable[Any]], what: str, deadline: float) -> Any:
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.5)


async def _json(
    session: aiohttp.ClientSession, method: str, url: str, token: str | None = None, **kw: Any
) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with session.request(method, url, headers=headers, **kw) as answer:
        assert answer.status == 200, (url, answer.status, await answer.text())
        return await answer.json()


async def test_keys_come_from_stock_lodestars_keymanager(
    devnet_keymanager: Devnet, tmp_path: Path
) -> None:
    node = devnet_keymanager
    assert node.keymanager_url is not None
    deadline = time.monotonic() + DEADLINE
    token_file = node.keymanager_token_file

    async def token_written() -> bool:
        return token_file.exists() and bool(token_file.read_text().strip())

    await _until(token_written, "Lodestar writes its keymanager token", deadline)
    database = tmp_path / "ledger.sqlite"
    settings = Settings(
        beacon={"urls": [node.url], "timeout_seconds": 10},
        ledger={"database": str(database)},
        http={"port": 0},
        validator_client=[
            {"name": "lodestar", "url": node.keymanager_url, "token_file": str(token_file)}
        ],
    )
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

            async def listening() -> bool:
                assert not task.done()
                return bool(bound)

            await _until(listening, "the daemon's HTTP server", deadline)
            daemon = Daemon(session, bound[0], database)

            async def members() -> float | None:
                assert not task.done()
                return await daemon.metric("stakepool_pool_members")

            assert await _until(members, "the pool from the keymanager", deadline) == 56
            assert await daemon.metric("stakepool_validator_client_up", vc="lodestar") == 1
            journal = daemon.journal()
            assert sorted(c.validator_index for c in journal) == list(range(56))
            assert {(c.change, c.sources) for c in journal} == {("added", ("vc:lodestar",))}

            # Past the start-up's skipped epochs (the node serves recent duties only), import
            # validator 60's keystore into the running validator client.
            async def steady() -> bool:
                assert not task.done()
                settled = await daemon.settled()
                return settled is not None and settled >= 2

            await _until(steady, "the ledger settles epoch 2", deadline)
            token = token_file.read_text().strip()
            pubkey = (
                await _json(session, "GET", f"{node.url}/eth/v1/beacon/states/head/validators/60")
            )["data"]["validator"]["pubkey"]
            head = await _json(session, "GET", f"{node.url}/eth/v1/beacon/headers/head")
            imported_at = int(head["data"]["header"]["message"]["slot"]) // SPE
            keystore = node.interop_keystore(IMPORTED, PASSWORD)
            assert "0x" + json.loads(keystore)["pubkey"] == pubkey
            imported = await _json(
                session,
                "POST",
                f"{node.keymanager_url}/eth/v1/keystores",
                token,
                json={"keystores": [keystore], "passwords": [PASSWORD]},
            )
            assert [s["status"] for s in imported["data"]] == ["imported"]

            async def paid() -> list[dict[str, Any]]:
                assert not task.done()
                rows = await daemon.rows(IMPORTED)
                return rows if len(rows) >= 5 else []

            rows = await _until(paid, "validator 60 is paid for five epochs", deadline)
            (added,) = [c for c in daemon.journal() if c.validator_index == IMPORTED]
            assert (added.change, added.sources) == ("added", ("vc:lodestar",))
            joined = added.effective_epoch
            assert joined > imported_at  # the next boundary, not the past
            assert rows[0]["epoch"] == joined  # paid from the boundary on
            # Monitored from it: every row carries the monitor's verdict on its vote, and once
            # the validator client has taken the key up its votes are included, and paid (a
            # window pays the votes of two epochs before: the last rows earn).
            assert all(r["attestation_included"] is not None for r in rows), rows
            assert rows[-1]["attestation_included"] is True, rows
            assert int(rows[-1]["reward_gwei"]) > 0, rows
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=30) == 0
