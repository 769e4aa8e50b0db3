"""The money path on PostgreSQL gives the ledger SQLite gives: two daemons follow two copies of the
same simulated chain (a slashing, withdrawal sweeps, a top-up, an exit, an empty slot and a
reorg; delegators joining and leaving by the file), one on a SQLite file and one on a fresh
PostgreSQL database, and their ledgers are compared row for row (timestamps and journal ids
left out) over the epochs both settled.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.store import detail_sql
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration import pgkit
from tests.integration.money.moneykit import (
    GWEI,
    LEDGER_TABLES,
    POOL,
    SCENARIO,
    VALIDATORS,
    delegations_toml,
)

POOL_ID = "sim-pool"
SETTLED = 9
FINAL = 5
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 4),
    ("carol", 8 * GWEI, 3, None),
)
Rows = list[tuple[object, ...]]


def _chain(genesis_time: int) -> SimChain:
    return SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=200,
            seed=11,
            genesis_time=genesis_time,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )


async def _status(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(f"{base}/api/v1/status") as r:
        assert r.status == 200, await r.text()
        data: dict[str, Any] = (await r.json())["data"]
        return data


async def _run(chain: SimChain, database: str, delegations: Path) -> None:
    """One daemon on ``database`` until epoch ``SETTLED`` is settled and ``FINAL`` final."""
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 5, "retries": 2},
            pool={
                "id": POOL_ID,
                "validators": [parse_validator_ref(v) for v in POOL],
                "delegations_file": str(delegations),  # one file: the journal names it
                "delegations_stable_seconds": 0,
                "fee_bps": 1000,
            },
            http={"port": 0},
            ledger={"database": database},
        )
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, configure_logs=False, on_listening=listening.set_result)
        )
        try:
            base = await asyncio.wait_for(listening, 30)
            deadline = time.monotonic() + 150
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
                while True:
                    status = await _status(http, base)
                    settled = status["last_settled_epoch"] or 0
                    final = status["last_final_epoch"] or 0
                    if settled >= SETTLED and final >= FINAL:
                        break
                    assert time.monotonic() < deadline, f"{database}: stuck at {status}"
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, 30) == 0


def _dump(target: str) -> dict[str, Rows]:
    """The ledger's money over epochs ``<= SETTLED``: rows that do not depend on when the run was
    stopped (statuses only up to ``FINAL``, totals left out: they sum what was settled)."""

    def read(conn: Connection) -> dict[str, Rows]:
        out: dict[str, Rows] = {}
        for table in ("delegators", "delegator_weights", "weight_changes", "delegation_journal"):
            out[table] = [tuple(r) for r in conn.execute(LEDGER_TABLES[table])]
        epochs = [tuple(r) for r in conn.execute(LEDGER_TABLES["ledger_epochs"])]
        out["ledger_epochs"] = [(r[0], *r[2:]) for r in epochs if int(str(r[0])) <= SETTLED]
        out["final"] = [r[:2] for r in epochs if int(str(r[0])) <= FINAL]
        out["validator_epochs"] = [
            r for r in detail_sql.row_tuples(conn) if int(str(r[0])) <= SETTLED
        ]
        return out

    db = Database.open(target)
    try:
        return db.read_sync(read)
    finally:
        db.close()


async def test_the_ledger_on_postgresql_equals_the_ledger_on_sqlite(
    tmp_path: Path, postgres_admin: str
) -> None:
    genesis = int(time.time()) + 3  # both daemons are up before genesis: the same origin
    delegations = tmp_path / "delegations.toml"
    delegations.write_text(DELEGATIONS)
    sqlite_file = str(tmp_path / "ledger.sqlite")
    with pgkit.fresh_database(postgres_admin) as url:
        await asyncio.gather(
            _run(_chain(genesis), sqlite_file, delegations),
            _run(_chain(genesis), url, delegations),
        )
        on_postgresql = _dump(url)
    on_sqlite = _dump(sqlite_file)
    # The run really moved money through every kind of row being compared.
    assert len(on_sqlite["ledger_epochs"]) >= SETTLED - 1
    assert {str(r[0]) for r in on_sqlite["delegators"]} == {"alice", "bob", "carol"}
    assert {str(r[1]) for r in on_sqlite["final"]} == {"final"}
    assert {int(str(r[1])) for r in on_sqlite["validator_epochs"]} == set(POOL)
    for table, rows in on_sqlite.items():
        assert on_postgresql[table] == rows, table
