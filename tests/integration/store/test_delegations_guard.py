"""The delegations file is applied only once stable, and a change that removes much of the pool's
weight (a half-written file, a header-only file) is held until confirmed: on a real file, a real
ledger and, for the confirmation, the real HTTP API."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from stakepool.ledger.delegations_gate import DelegationsGate, DelegationsGuard, GateError
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.ledger.watcher import DelegationsWatcher
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.publish.ledger_metrics import LedgerMetrics
from tests.integration.money.buses import ledger_bus

TOKEN = "t0ken"
HEADER = "delegator,amount_gwei,from_epoch,to_epoch\n"
FULL = HEADER + "".join(f"d{i:02},{32_000_000_000},0,\n" for i in range(10))
FIRST_THREE = HEADER + "".join(f"d{i:02},{32_000_000_000},0,\n" for i in range(3))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _write(path: Path, text: str, tick: int) -> str:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
async def store(db_target: str) -> AsyncIterator[SqliteLedgerStore]:
    ledger = open_ledger(db_target, pool_id="p", policy=LedgerPolicy())
    yield ledger
    ledger.db.close()


async def _weights(store: SqliteLedgerStore) -> dict[str, int]:
    page = await store.delegators(limit=1000)
    return {d.id: d.principal_gwei for d in page.items}


def _watcher(
    store: SqliteLedgerStore, path: Path, clock: Clock, **guard: object
) -> DelegationsWatcher:
    """The watcher as the daemon builds it (``LedgerService``), on a clock the test moves."""
    service = LedgerService(store, delegations_file=path)
    if guard:
        service.delegations_guard = DelegationsGuard(**guard)  # type: ignore[arg-type]
    watcher = service.delegations_watcher(lambda: None)
    assert watcher is not None
    watcher.clock = clock
    watcher.wall = lambda: 0.0  # the files' mtimes (1970 + a few s) are all "just now"
    return watcher


async def _settled_full(store: SqliteLedgerStore, path: Path, clock: Clock) -> DelegationsWatcher:
    watcher = _watcher(store, path, clock)
    _write(path, FULL, 1)
    assert await watcher.check_once() is None  # just changed: waits for it to stand still
    clock.now += 5
    assert await watcher.check_once() is not None
    assert len(await _weights(store)) == 10
    return watcher


async def test_a_change_applies_only_once_the_file_stood_still(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = _watcher(store, path, clock)
    _write(path, FIRST_THREE, 1)  # a writer part-way through
    assert await watcher.check_once() is None
    clock.now += 3
    _write(path, FULL, 2)  # ... still writing
    assert await watcher.check_once() is None
    clock.now += 4  # 7 s after the first sight, but only 4 s since the last change
    assert await watcher.check_once() is None
    assert await _weights(store) == {}
    clock.now += 1
    applied = await watcher.check_once()
    assert applied is not None
    assert sorted(await _weights(store)) == [f"d{i:02}" for i in range(10)]


async def test_a_half_written_file_is_held_and_the_weights_stay(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = await _settled_full(store, path, clock)
    before = await _weights(store)
    digest = _write(path, FIRST_THREE, 2)  # a writer that died after three rows
    assert await watcher.check_once() is None
    clock.now += 60
    assert await watcher.check_once() is None
    assert await watcher.check_once() is None
    assert await _weights(store) == before
    held = watcher.gate.held
    assert held is not None
    assert held.digest == digest
    assert held.weight_removed_gwei == 7 * 32_000_000_000
    assert "70.0% of the pool's weight" in held.reason
    # The writer comes back and finishes: the held content is dropped, nothing changes.
    _write(path, FULL, 3)
    clock.now += 5
    assert await watcher.check_once() is None
    clock.now += 5
    assert await watcher.check_once() is None
    assert watcher.gate.held is None
    assert await _weights(store) == before


async def test_a_header_only_file_is_held(store: SqliteLedgerStore, tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = await _settled_full(store, path, clock)
    _write(path, HEADER, 2)
    clock.now += 1
    assert await watcher.check_once() is None
    clock.now += 5
    assert await watcher.check_once() is None
    held = watcher.gate.held
    assert held is not None
    assert "lists no delegations" in held.reason
    assert all(w == 32_000_000_000 for w in (await _weights(store)).values())


async def test_a_small_removal_applies_without_confirmation(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = await _settled_full(store, path, clock)
    _write(path, FULL.replace("d09,32000000000,0,\n", ""), 2)  # one of ten leaves: 10 %
    assert await watcher.check_once() is None
    clock.now += 5
    assert await watcher.check_once() is not None
    assert (await _weights(store))["d09"] == 0


async def test_allow_large_changes_applies_a_large_removal(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    await _settled_full(store, path, clock)
    watcher = _watcher(store, path, clock, stable_seconds=5.0, allow_large_changes=True)
    _write(path, FIRST_THREE, 2)
    assert await watcher.check_once() is None
    clock.now += 5
    assert await watcher.check_once() is not None
    assert sum(1 for w in (await _weights(store)).values() if w) == 3


async def test_a_confirmation_must_name_what_is_held(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = await _settled_full(store, path, clock)
    digest = _write(path, FIRST_THREE, 2)
    clock.now += 5
    await watcher.check_once()
    clock.now += 5
    await watcher.check_once()
    with pytest.raises(GateError, match=f"has digest {digest}"):
        watcher.gate.confirm("0" * 64)
    assert watcher.gate.confirm(digest.upper()).digest == digest
    applied = await watcher.check_once()  # the file's stat did not move: the confirmation did
    assert applied is not None
    assert watcher.gate.held is None
    assert sum(1 for w in (await _weights(store)).values() if w) == 3


async def test_confirming_through_the_api_applies_the_held_change_at_once(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    path = tmp_path / "d.csv"
    _write(path, FULL, 1)
    gate = DelegationsGate()
    watcher = DelegationsWatcher(
        path,
        store,
        lambda: None,
        poll_seconds=60,  # only the confirmation's wake-up can make it apply within the test
        guard=DelegationsGuard(stable_seconds=0.0),
        gate=gate,
    )
    assert await watcher.check_once() is not None
    digest = _write(path, FIRST_THREE, 2)
    api = LedgerApi(store, pool_id="p", token=TOKEN, gate=gate)
    server = HttpServer(build_app(CollectorRegistry(), lambda: None, api=api), "127.0.0.1", 0)
    await server.start()
    running = asyncio.create_task(watcher.run())
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            for _ in range(100):  # the run loop's first poll holds it
                async with http.get("/api/v1/delegations/held") as answer:
                    held = (await answer.json())["data"]
                if held is not None:
                    break
                await asyncio.sleep(0.02)
            assert held is not None
            assert held["digest"] == digest
            assert held["weight_removed_gwei"] == str(7 * 32_000_000_000)
            async with http.post("/api/v1/delegations/confirm", json={"digest": digest}) as answer:
                assert answer.status == 401  # no token: nothing confirmed
            async with http.post(
                "/api/v1/delegations/confirm", json={"digest": "ab" * 32}, headers=auth
            ) as answer:
                assert answer.status == 409
                assert digest in (await answer.json())["message"]
            assert len([w for w in (await _weights(store)).values() if w]) == 10
            async with http.post(
                "/api/v1/delegations/confirm", json={"digest": digest}, headers=auth
            ) as answer:
                assert answer.status == 202
            for _ in range(250):
                if len([w for w in (await _weights(store)).values() if w]) == 3:
                    break
                await asyncio.sleep(0.02)
            assert len([w for w in (await _weights(store)).values() if w]) == 3
            async with http.get("/api/v1/delegations/held") as answer:
                assert (await answer.json())["data"] is None
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await server.stop()


async def test_a_file_last_modified_long_ago_needs_no_wait(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    clock, path = Clock(), tmp_path / "d.csv"
    watcher = _watcher(store, path, clock)
    watcher.wall = lambda: 1000.0  # the file (mtime 1 s) has not changed for 999 s
    _write(path, FULL, 1)
    assert await watcher.check_once() is not None


async def test_the_held_gauge_is_1_while_a_change_is_held(
    store: SqliteLedgerStore, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    service = LedgerService(
        store,
        ledger_bus(LedgerMetrics(registry)),
        delegations_file=tmp_path / "d.csv",
        delegations_guard=DelegationsGuard(stable_seconds=0.0),
    )
    watcher = service.delegations_watcher(lambda: None)
    assert watcher is not None

    def held() -> float | None:
        return registry.get_sample_value("stakepool_delegations_held")

    _write(tmp_path / "d.csv", FULL, 1)
    assert await watcher.check_once() is not None
    assert held() == 0
    digest = _write(tmp_path / "d.csv", HEADER, 2)
    assert await watcher.check_once() is None
    assert held() == 1
    service.gate.confirm(digest)
    assert await watcher.check_once() is not None
    assert held() == 0
