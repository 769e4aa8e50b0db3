"""Retention with a tiny window on a simulated chain: the daemon settles the money scenario with
short statement periods ("days" of 16 epochs); then a copy of its ledger is rolled up with three
epochs of detail kept (the same ``Retention`` the daemon runs after each close).

What a user relies on: each roll-up equals the pruned detail exactly (summed here from the
untouched ledger), the pool's and every delegator's figures and statements are unchanged, the
API answers a validator's history at day resolution beyond the window and at epoch resolution
inside it (both checked against the OpenAPI document), the export says which, and the database
file is smaller after the vacuum.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.retention import Retention, RetentionPolicy
from stakepool.ledger.store import export
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from stakepool.store.database import Database
from tests.integration.api.conftest import ApiClient
from tests.integration.money.moneykit import (
    GWEI,
    POOL,
    SCENARIO,
    VALIDATORS,
    delegations_toml,
    detail_rows,
    dump_ledger,
)

POOL_ID = "retained"
PERIOD = 16
"""Epochs per statement period: the roll-up's "day" in this test."""
KEEP = 3
"""Epochs of per-validator detail kept behind the newest settled one."""
LAST_FINAL = 2 * PERIOD + 1
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 20),
)


def _settings(url: str, tmp: Path, **ledger: int) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 5, "retries": 2},
        pool={
            "id": POOL_ID,
            "validators": [parse_validator_ref(v) for v in POOL],
            "delegations_file": str(tmp / "delegations.toml"),
            "delegations_stable_seconds": 0,
            "fee_bps": 1000,
        },
        http={"port": 0},
        ledger={
            "database": str(tmp / "ledger.sqlite"),
            "statement_period_epochs": PERIOD,
            **ledger,
        },
    )


def _status(db: Path) -> tuple[int, int]:
    if not db.exists():
        return -1, -1
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT COALESCE(MAX(epoch), -1),"
            " COALESCE(MAX(CASE WHEN status = 'final' THEN epoch END), -1) FROM ledger_epochs"
        ).fetchone()
        return int(row[0]), int(row[1])
    except sqlite3.Error:
        return -1, -1
    finally:
        conn.close()


async def _run_daemon(tmp: Path, **ledger: int) -> Settings:
    (tmp / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=100,
            seed=11,
            genesis_time=int(time.time()) + 2,
            scenario=SCENARIO,
            history_epochs=128,
        )
    )
    stop = asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = _settings(sim.url, tmp, **ledger)
        daemon = asyncio.create_task(run_daemon(settings, stop=stop, configure_logs=False))
        try:
            deadline = time.monotonic() + 180
            while not _far_enough(*_status(tmp / "ledger.sqlite")) or (
                ledger and _periods_rolled_up(tmp / "ledger.sqlite") < 2
            ):
                assert not daemon.done(), "the daemon stopped"
                assert time.monotonic() < deadline, f"epoch {LAST_FINAL} not final in 180 s"
                await asyncio.sleep(0.5)
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, 30) == 0
    return settings


def _periods_rolled_up(db: Path) -> int:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM validator_rollups").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _far_enough(settled: int, final: int) -> bool:
    """Two periods wholly final and older than the window."""
    return final >= LAST_FINAL and settled >= 2 * PERIOD + KEEP


def _bytes_on_disk(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path.stat().st_size


async def _reads(store: SqliteLedgerStore) -> dict[str, Any]:
    """What delegators and the pool see: balances, per-epoch credits, statements."""
    out: dict[str, Any] = {"pool": await store.pool_totals()}
    page = await store.delegators(cursor=None, limit=100)
    for d in page.items:
        out[f"delegator {d.id}"] = await store.delegator(d.id)
        out[f"statements {d.id}"] = await store.statements(d.id, 0, 100)
    return out


async def test_tiny_retention_rolls_up_exactly_and_changes_no_balance(tmp_path: Path) -> None:
    untouched_dir = tmp_path / "untouched"
    untouched_dir.mkdir()
    settings = await _run_daemon(untouched_dir)
    untouched = untouched_dir / "ledger.sqlite"
    settled, final = _status(untouched)
    retained = tmp_path / "retained.sqlite"
    shutil.copy(untouched, retained)
    size_before = _bytes_on_disk(retained)

    db = Database.open(retained)
    try:
        retention = Retention(db, RetentionPolicy(period_epochs=PERIOD, detail_epochs=KEEP))
        pruned = await retention.run()
        # Every period wholly final and older than the window, and none other.
        due = [p for p in range(settled) if (p + 1) * PERIOD - 1 <= min(final, settled - KEEP)]
        assert pruned == due
        assert len(pruned) >= 2
        assert retention.refused == {}
        assert await retention.run() == [], "a second pass finds nothing to do"
        store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=settings.pool.policy())
        untouched_db = Database.open_read_only(untouched)
        try:
            reference = SqliteLedgerStore(
                untouched_db, pool_id=POOL_ID, policy=settings.pool.policy()
            )
            assert await _reads(store) == await _reads(reference)
        finally:
            untouched_db.close()
        await _check_api(store, pruned, untouched)
        exported = _export(db)
    finally:
        db.close()
    size_after = _bytes_on_disk(retained)

    # The pool's and the delegators' ledger: row for row the same.
    before, after = dump_ledger(untouched), dump_ledger(retained)
    for table in before:
        if table != "validator_epochs":
            assert after[table] == before[table], table
    # The detail inside the window is untouched; the pruned periods' is gone.
    last_pruned = (pruned[-1] + 1) * PERIOD - 1
    detail = detail_rows(untouched)
    assert list(detail_rows(retained)) == [r for r in detail if int(str(r[0])) > last_pruned]

    # Each roll-up is the exact sum of the detail it replaced, summed here independently.
    expected: dict[tuple[int, int], list[Any]] = {}
    for epoch, index, reward, components, residual, att, proposals, missed, _s in detail:
        e = int(str(epoch))
        if e > last_pruned:
            continue
        key = (e // PERIOD, int(str(index)))
        acc = expected.setdefault(key, [e, e, 0, 0, 0, 0, 0, 0, None, None])
        acc[1] = e
        acc[2] += 1
        acc[3] += int(str(reward))
        acc[4] += att == 1
        acc[5] += att == 0
        acc[6] += int(str(proposals))
        acc[7] += int(str(missed))
        if residual is not None:
            acc[8] = (acc[8] or 0) + int(str(residual))
        if components is not None:
            sums = acc[9] or {}
            for name, amount in json.loads(str(components)).items():
                sums[name] = sums.get(name, 0) + int(amount)
            acc[9] = {name: amount for name, amount in sums.items() if amount}
    conn = sqlite3.connect(retained)
    try:
        stored = {
            (int(r[0]), int(r[1])): [
                *r[2:10],
                r[10],
                None if r[11] is None else json.loads(r[11]),
            ]
            for r in conn.execute(
                "SELECT period, validator_index, first_epoch, last_epoch, epochs, reward_gwei,"
                " attestations_included, attestations_missed, proposals, proposals_missed,"
                " residual_gwei, components_json FROM validator_daily"
            )
        }
    finally:
        conn.close()
    assert stored == expected
    assert sum(v[3] for v in stored.values()) == sum(
        int(str(r[2])) for r in detail if int(str(r[0])) <= last_pruned
    )

    # The export says which resolution each row has.
    assert {row["resolution"] for row in exported} == {"day", "epoch"}
    days = [row for row in exported if row["resolution"] == "day"]
    assert len(days) == len(stored)
    assert all(int(row["epoch"]) > last_pruned for row in exported if row["resolution"] == "epoch")

    assert size_after < size_before, (size_before, size_after)


async def test_the_daemon_rolls_up_and_prunes_by_itself(tmp_path: Path) -> None:
    """``[ledger] validator_detail_epochs`` set: the running daemon rolls up the periods beyond
    it after its closes, without stopping settlement, and keeps the detail inside the window."""
    await _run_daemon(tmp_path, validator_detail_epochs=KEEP)
    db = tmp_path / "ledger.sqlite"
    settled, _final = _status(db)
    conn = sqlite3.connect(db)
    try:
        periods = [int(r[0]) for r in conn.execute("SELECT period FROM validator_rollups")]
        oldest = int(conn.execute("SELECT MIN(epoch) FROM validator_epoch_detail").fetchone()[0])
        rows = int(conn.execute("SELECT COUNT(*) FROM validator_daily").fetchone()[0])
    finally:
        conn.close()
    assert periods[:2] == [0, 1]
    assert oldest == (periods[-1] + 1) * PERIOD
    assert settled - oldest >= KEEP
    assert rows >= 2 * len(POOL) - 2  # (exited validators leave a period early)


async def _check_api(store: SqliteLedgerStore, pruned: list[int], untouched: Path) -> None:
    server = HttpServer(
        build_app(
            CollectorRegistry(), lambda: None, api=LedgerApi(store, pool_id=POOL_ID, token=None)
        ),
        "127.0.0.1",
        0,
    )
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            api = ApiClient(session, server.url)  # answers checked against the OpenAPI document
            validator = POOL[0]
            rows = (
                await api.get(
                    f"/api/v1/validators/{validator}/epochs", query={"from": "0", "to": "999"}
                )
            ).data
            resolutions = [r["resolution"] for r in rows]
            assert resolutions[: len(pruned)] == ["day"] * len(pruned)
            assert set(resolutions[len(pruned) :]) == {"epoch"}
            assert [r["period"] for r in rows[: len(pruned)]] == pruned
            # The history still adds up to the validator's total over the same epochs.
            total = sum(
                int(str(r[2])) for r in detail_rows(untouched) if int(str(r[1])) == validator
            )
            assert sum(int(r["reward_gwei"]) for r in rows) == total
            # Inside the window alone: epoch resolution only.
            last = rows[-1]["epoch"]
            inside = (
                await api.get(f"/api/v1/validators/{validator}/epochs", query={"from": str(last)})
            ).data
            assert [r["resolution"] for r in inside] == ["epoch"]
    finally:
        await server.stop()


def _export(db: Database) -> list[dict[str, Any]]:
    def run(conn: sqlite3.Connection) -> str:
        out = io.StringIO()
        export.write(out, export.table(conn, "validators", 0, 100_000), "json")
        return out.getvalue()

    text = db.read_sync(run)
    answer = json.loads(text)
    rows = answer if isinstance(answer, list) else answer.get("rows", answer.get("data", []))
    assert isinstance(rows, list)
    return [dict(r) for r in rows]
