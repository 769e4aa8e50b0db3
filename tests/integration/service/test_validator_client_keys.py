"""Keys from a validator client's keymanager join and leave the pool while the daemon runs.

The real daemon follows a simulated chain; a simulated validator client's Keymanager API holds
validators 1 and 2 at the start, the configuration names validator 0. A key imported while the
daemon runs is monitored and paid from the next epoch boundary (no restart, no config edit); a
deleted key is retired there, its ledger history intact; a validator client that cannot be
reached keeps its keys and says so in its metric.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.membership import MembershipChange
from stakepool.ledger.store import membership_sql
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from stakepool.sim.server import SimServer
from stakepool.store.database import Database

SLOT_MS = 150
TOKEN = "cd" * 32
DEADLINE = 60.0


async def _until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; bounded by a deadline."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.1)


class Daemon:
    def __init__(self, session: aiohttp.ClientSession, base: str, database: Path) -> None:
        self.session = session
        self.base = base
        self.database = database

    async def rows(self, index: int) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.base}/api/v1/validators/{index}/epochs") as answer:
            if answer.status == 404:
                return []
            assert answer.status == 200, await answer.text()
            data: list[dict[str, Any]] = (await answer.json())["data"]
            return data

    async def settled(self) -> int | None:
        async with self.session.get(f"{self.base}/api/v1/status") as answer:
            value = (await answer.json())["data"]["last_settled_epoch"]
            return None if value is None else int(value)

    async def metric(self, name: str, **labels: str) -> float | None:
        async with self.session.get(f"{self.base}/metrics") as answer:
            text = await answer.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return None

    def journal(self) -> list[MembershipChange]:
        db = Database.open(self.database)
        try:
            return db.read_sync(membership_sql.journal)
        finally:
            db.close()


async def test_keys_imported_and_deleted_while_running(tmp_path: Path) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3))
    sim = SimServer(chain, auto_advance=True)
    keymanager = SimKeymanager(TOKEN, local=[1, 2])
    second = SimKeymanager(TOKEN, local=[1], remote=[3])  # another host; key 1 runs on both
    token_file = tmp_path / "api-token.txt"
    token_file.write_text(TOKEN + "\n")
    await sim.start()
    await keymanager.start()
    await second.start()
    database = tmp_path / "ledger.sqlite"
    settings = Settings(
        beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
        pool={"validators": [parse_validator_ref("0")]},
        ledger={"database": str(database)},
        http={"port": 0},
        validator_client=[
            {"name": "vc-1", "url": keymanager.url, "token_file": str(token_file)},
            {"name": "vc-2", "url": second.url, "token_file": str(token_file)},
        ],
    )
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await _until(lambda: _true(bool(bound) or task.done()), "the HTTP server")
            daemon = Daemon(session, bound[0], database)
            # Config and validator-client keys are one pool from the start.
            await _until(lambda: daemon.rows(2), "validator 2 (from the keymanager) is paid")
            assert await daemon.rows(0)
            assert await daemon.rows(1)
            assert await daemon.rows(3)  # a remote key of the second host
            at_start = {c.validator_index: c.sources for c in daemon.journal()}
            assert at_start == {
                0: ("config",),
                1: ("vc:vc-1", "vc:vc-2"),
                2: ("vc:vc-1",),
                3: ("vc:vc-2",),
            }
            assert await daemon.metric("stakepool_validator_client_keys", vc="vc-2") == 2
            assert await daemon.metric("stakepool_validator_client_up", vc="vc-1") == 1
            assert await daemon.metric("stakepool_validator_client_keys", vc="vc-1") == 2
            assert await daemon.rows(5) == []

            # Import validator 5's key into the running validator client.
            imported_at = chain.head_epoch
            keymanager.import_local(5)
            rows5 = await _until(lambda: daemon.rows(5), "validator 5 is paid")
            added = [c for c in daemon.journal() if c.validator_index == 5]
            assert [(c.change, c.sources) for c in added] == [("added", ("vc:vc-1",))]
            joined = added[0].effective_epoch
            assert joined > imported_at  # the next boundary, not the past
            assert rows5[0]["epoch"] == joined  # paid exactly from the boundary on
            # Monitored too: its attestation verdict reached the ledger row.
            assert rows5[0]["attestation_included"] is not None

            # The validator client goes away: its keys stay, its gauge says so.
            keymanager.down = True
            await _until(
                lambda: _is(daemon.metric("stakepool_validator_client_up", vc="vc-1"), 0.0),
                "the unreachable validator client is reported",
            )
            down_since = await daemon.settled()
            assert down_since is not None
            await _until(
                lambda: _later_row(daemon, 5, down_since + 2), "validator 5 paid while vc is down"
            )
            assert not [c for c in daemon.journal() if c.change == "retired"]
            keymanager.down = False

            # Delete it: retired at the next boundary, its history kept.
            keymanager.delete_local(5)
            retired = await _until(
                lambda: _true([c for c in daemon.journal() if c.change == "retired"]),
                "validator 5 is retired",
            )
            assert [(c.validator_index, c.sources) for c in retired] == [(5, ())]
            left = retired[0].effective_epoch
            await _until(lambda: _settled_past(daemon, left + 1), "epochs after the retirement")
            history = [r["epoch"] for r in await daemon.rows(5)]
            assert history == list(range(joined, left))  # every epoch it was ours, none after
            assert (await daemon.rows(1))[-1]["epoch"] >= left + 1  # the others go on
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await keymanager.stop()
        await second.stop()
        await sim.stop()


async def _true(value: Any) -> Any:
    return value


async def _is(metric: Awaitable[float | None], expected: float) -> bool:
    return await metric == expected


async def _later_row(daemon: Daemon, index: int, epoch: int) -> bool:
    rows = await daemon.rows(index)
    return bool(rows) and rows[-1]["epoch"] >= epoch


async def _settled_past(daemon: Daemon, epoch: int) -> bool:
    settled = await daemon.settled()
    return settled is not None and settled >= epoch
