"""``stakepool ledger migrate``: a real SQLite ledger moves into PostgreSQL and the pool goes on.

The ledger is built by a daemon settling a simulated chain (a slashing, a top-up, an exit, an
empty slot, a reorg; delegators joining and leaving by the file) until some epochs are final, so
the copy meets final rows that PostgreSQL's triggers guard. After the move, ``ledger export`` of
both databases gives the same CSV for every kind, and a daemon started on the PostgreSQL URL (the
same simulator, still running) settles from the next epoch on: nothing settled twice, nothing
skipped. The refusals leave the target as it was.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from stakepool.cli.main import main
from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from stakepool.store.database import Database
from tests.integration import pgkit
from tests.integration.money.moneykit import GWEI, POOL, SCENARIO, VALIDATORS, delegations_toml

SETTLED = 6
FINAL = 3
MORE = 2
"""Epochs the daemon on PostgreSQL must settle after the copied ones."""
PASSWORD = "never-print-me-7f3a"
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 4),
    ("carol", 8 * GWEI, 3, None),
)


async def _settle(sim: SimServer, database: str, delegations: Path, settled: int) -> int:
    """One daemon on ``database`` until epoch ``settled`` is settled and ``FINAL`` final; returns
    the last settled epoch when it stopped."""
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    settings = Settings(
        beacon={"urls": [sim.url], "timeout_seconds": 5, "retries": 2},
        pool={
            "id": "sim-pool",
            "validators": [parse_validator_ref(v) for v in POOL],
            "delegations_file": str(delegations),
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
                async with http.get(f"{base}/api/v1/status") as r:
                    assert r.status == 200, await r.text()
                    status: dict[str, Any] = (await r.json())["data"]
                last = status["last_settled_epoch"] or 0
                if last >= settled and (status["last_final_epoch"] or 0) >= FINAL:
                    break
                assert time.monotonic() < deadline, f"{database}: stuck at {status}"
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        assert await asyncio.wait_for(daemon, 30) == 0
    return int(last)


def _export(database: str, kind: str, last: int, out: Path) -> str:
    code = main(
        ["ledger", "export", "--kind", kind, "--from", "0", "--to", str(last)]
        + ["--database", database, "--output", str(out)]
    )
    assert code == 0
    return out.read_text()


def _epochs(url: str) -> list[tuple[int, str, str]]:
    db = Database.open(url)
    try:
        rows = db.read_sync(
            lambda c: c.execute(
                "SELECT epoch, status, settled_at FROM ledger_epochs ORDER BY epoch"
            ).fetchall()
        )
    finally:
        db.close()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _migrate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what ran before (a daemon's lines) is not the command's
    code = main(["ledger", "migrate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_a_migrated_ledger_exports_the_same_and_the_pool_settles_on(
    tmp_path: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    delegations = tmp_path / "delegations.toml"
    delegations.write_text(DELEGATIONS)
    sqlite_file = str(tmp_path / "ledger.sqlite")
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=200,
            seed=11,
            genesis_time=int(time.time()) + 2,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    async with SimServer(chain, auto_advance=True) as sim:
        last = await _settle(sim, sqlite_file, delegations, SETTLED)
        with pgkit.fresh_database(postgres_admin) as url:
            code, out, err = _migrate(
                capsys, "--from", sqlite_file, "--to", url, "--password-file", str(password_file)
            )
            assert code == 0, err
            assert PASSWORD not in out + err
            copied = {line.split("\t")[0]: int(line.split("\t")[1]) for line in out.splitlines()}
            with sqlite3.connect(sqlite_file) as source:
                for table in ("ledger_epochs", "validator_epoch_detail", "delegators",
                              "delegation_journal", "kept_state", "ledger_writer"):  # fmt: skip
                    want = source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                    assert copied[table] == want > 0, table

            for kind in ("pool", "validators", "delegators"):
                on_sqlite = _export(sqlite_file, kind, last, tmp_path / f"{kind}.sqlite.csv")
                on_pg = _export(url, kind, last, tmp_path / f"{kind}.pg.csv")
                assert on_pg == on_sqlite, kind
                assert len(on_sqlite.splitlines()) > 2, kind  # a header and real rows
            with (
                psycopg.connect(url, autocommit=True) as conn,
                pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="immutable"),
            ):
                # The copy switched the triggers off inside its transaction only.
                conn.execute(
                    "UPDATE ledger_epochs SET state_json = state_json || ' ' WHERE status = 'final'"
                )
            before = _epochs(url)
            assert {s for e, s, _ in before if e <= FINAL} == {"final"}

            await _settle(sim, url, delegations, last + MORE)
            after = _epochs(url)
            epochs = [e for e, _, _ in after]
            # From the next epoch on: no gap, none settled twice, the copied ones untouched
            # (a final row keeps its settlement time; a provisional one may only turn final).
            assert epochs == list(range(epochs[0], epochs[-1] + 1))
            assert epochs[-1] >= last + MORE
            kept = {e: (s, at) for e, s, at in after}
            for epoch, status, settled_at in before:
                assert kept[epoch][1] == settled_at, epoch
                if status == "final":
                    assert kept[epoch][0] == "final", epoch


def _small_ledger(path: Path) -> str:
    """A ledger file as ``stakepool run`` leaves it before the first epoch, plus kept state and
    three MQTT events waiting in the outbox (ids 1..3)."""
    db = Database.open(path)
    try:
        db.write_sync(
            lambda c: c.execute(
                "INSERT INTO kept_state (key, value, updated_at) VALUES ('k', 'v', 'now')"
            )
        )
        db.write_sync(
            lambda c: c.executemany(
                "INSERT INTO outbox (event_id, kind, payload) VALUES (?, 'alert', '{}')",
                [(f"e{n}",) for n in range(3)],
            )
        )
    finally:
        db.close()
    return str(path)


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_the_next_outbox_event_after_a_move_takes_a_fresh_id(
    tmp_path: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _small_ledger(tmp_path / "ledger.sqlite")
    with pgkit.fresh_database(postgres_admin) as url:
        assert _migrate(capsys, "--from", source, "--to", url)[0] == 0
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO outbox (event_id, kind, payload) VALUES ('e3', 'alert', '{}')"
                " RETURNING id"
            ).fetchone()
            assert row == (4,)  # the identity was advanced past the copied ids, not reset to 1


def test_a_target_that_holds_a_ledger_is_refused_and_left_alone(
    tmp_path: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _small_ledger(tmp_path / "ledger.sqlite")
    with pgkit.fresh_database(postgres_admin) as url:
        assert _migrate(capsys, "--from", source, "--to", url)[0] == 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE kept_state SET value = 'moved on'")
        code, _, err = _migrate(capsys, "--from", source, "--to", url)
        assert code == 2
        assert "the target is not empty (rows in kept_state, outbox)" in err
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT value FROM kept_state").fetchall() == [("moved on",)]


def test_a_target_of_a_newer_schema_is_refused(
    tmp_path: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _small_ledger(tmp_path / "ledger.sqlite")
    with pgkit.fresh_database(postgres_admin) as url:
        Database.open(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
        code, _, err = _migrate(capsys, "--from", source, "--to", url)
        assert code == 2
        assert "schema version 99" in err
        assert "the schema versions differ" in err
        assert _count(url, "kept_state") == 0


def test_a_source_of_another_schema_or_no_ledger_is_refused(
    tmp_path: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = _small_ledger(tmp_path / "newer.sqlite")
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pgkit.fresh_database(postgres_admin) as url:
        code, _, err = _migrate(capsys, "--from", newer, "--to", url)
        assert code == 2
        assert "schema version 99" in err
        assert "written by a newer release" in err
        code, _, err = _migrate(capsys, "--from", str(other), "--to", url)
        assert code == 2
        assert "not a stakepool ledger" in err
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id bigint)")
        code, _, err = _migrate(capsys, "--from", _small_ledger(tmp_path / "l.sqlite"), "--to", url)
        assert code == 2
        assert "not a stakepool ledger (invoices)" in err
