"""``stakepool verify`` against the simulator: it agrees with every final period's published root,
and names the epoch (and validator) when one ledger row is altered in the database.

The daemon follows a simulated chain with a slashing, a missed slot, an orphaned block (a reorg), a
top-up deposit and an exit, while delegators join and leave through the delegations file; periods
are 3 epochs. Then ``stakepool verify`` runs as a delegator runs it — a separate process that reads
only the beacon node, the delegations file and the daemon's HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from stakepool.store.database import Database
from tests.integration.money.moneykit import (
    GWEI,
    POOL,
    SCENARIO,
    SLASHED,
    VALIDATORS,
    alter_reward,
    delegations_toml,
    detail_rows,
)
from tests.integration.processes import clean_env

POOL_ID = "sim-pool"
PERIOD = 3
LAST_FINAL = 11  # periods 0..3 final
POLICY = "fee_bps=1000,fee_mode=high_water_mark,loss_policy=socialized"
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 6),
    ("carol", 8 * GWEI, 5, None),
    ("dave", 10 * GWEI, 7, None),
)


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 5, "retries": 2},
        pool={
            "id": POOL_ID,
            "validators": [parse_validator_ref(v) for v in POOL],
            "delegations_file": str(tmp / "delegations.toml"),
            "delegations_stable_seconds": 0,  # written whole before the start
            "fee_bps": 1000,
        },
        http={"port": 0},
        ledger={"database": str(tmp / "ledger.sqlite"), "statement_period_epochs": PERIOD},
    )


async def _run_daemon_until_final(sim_url: str, tmp: Path) -> None:
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    daemon = asyncio.create_task(
        run_daemon(
            _settings(sim_url, tmp),
            stop=stop,
            configure_logs=False,
            on_listening=listening.set_result,
        )
    )
    try:
        base = await asyncio.wait_for(listening, 20)
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while True:
                async with http.get(f"{base}/api/v1/status") as r:
                    final = (await r.json())["data"]["last_final_epoch"]
                if final is not None and final >= LAST_FINAL:
                    break
                assert time.monotonic() < deadline, f"epoch {LAST_FINAL} not final in time"
                await asyncio.sleep(0.3)
    finally:
        stop.set()
        assert await asyncio.wait_for(daemon, 20) == 0


@asynccontextmanager
async def _published(db_path: Path) -> AsyncIterator[str]:
    """The daemon's HTTP API over its ledger file (the daemon itself is stopped)."""
    db = Database.open(str(db_path))
    store = SqliteLedgerStore(
        db,
        pool_id=POOL_ID,
        policy=_settings("http://127.0.0.1:1", Path()).pool.policy(),
        period_epochs=PERIOD,
    )
    server = HttpServer(
        build_app(
            CollectorRegistry(), lambda: None, api=LedgerApi(store, pool_id=POOL_ID, token=None)
        ),
        "127.0.0.1",
        0,
    )
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
        db.close()


async def _verify(
    tmp: Path, sim_url: str, api_url: str | None, period: int, *extra: str
) -> tuple[int, str]:
    api = () if api_url is None else ("--api", api_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stakepool",
        "verify",
        *("--period", str(period), "--beacon", sim_url, *api),
        *("--delegations", str(tmp / "delegations.toml"), "--policy", POLICY),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=clean_env(),
        cwd=tmp,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def _statements_add_up(api: str, periods: list[int]) -> None:
    """On this chain: each statement is the sum of its delegator's rows; the pool's side adds up."""
    _s, body = await _get(f"{api}/api/v1/pool/epochs?from=0&to=99")
    pool = {r["epoch"]: r for r in json.loads(body)["data"]}
    by_period: dict[int, list[dict[str, str]]] = {}
    for d in ("alice", "bob", "carol", "dave"):
        _s, body = await _get(f"{api}/api/v1/delegators/{d}/epochs?from=0&to=99")
        credits = {r["epoch"]: int(r["credit_gwei"]) for r in json.loads(body)["data"]}
        _s, body = await _get(f"{api}/api/v1/delegators/{d}/statements")
        for st in json.loads(body)["data"]:
            span = range(st["first_epoch"], st["last_epoch"] + 1)
            assert int(st["net_credit_gwei"]) == sum(credits.get(k, 0) for k in span), st
            by_period.setdefault(st["period"], []).append(st)
    assert {s["delegator"] for s in by_period[1]} >= {"alice", "bob", "carol"}  # carol joins
    for period in periods:
        rows = [pool[k] for k in range(period * PERIOD, period * PERIOD + PERIOD) if k in pool]
        credited = sum(int(s["net_credit_gwei"]) for s in by_period[period])
        fees = sum(int(r["fee_gwei"]) for r in rows)
        dust = sum(int(r["distributed_gwei"]) for r in rows) - credited
        assert credited + fees + dust == sum(int(r["reward_gwei"]) for r in rows)
        assert abs(dust) < 4
        assert all(s["status"] == "final" for s in by_period[period])


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await answer.read()


def _tamper(db_path: Path, *statements: str) -> None:
    """What a dishonest or broken operator could do: bypass the immutability triggers."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


async def test_verify_agrees_with_every_final_period_and_names_an_altered_row(
    tmp_path: Path,
) -> None:
    (tmp_path / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    db_path = tmp_path / "ledger.sqlite"
    async with SimServer(chain, auto_advance=True) as sim:
        await _run_daemon_until_final(sim.url, tmp_path)
        async with _published(db_path) as api:
            _status, body = await _get(f"{api}/api/v1/commitments")
            committed = [c["period"] for c in json.loads(body)["data"]]
            assert committed[:4] == [0, 1, 2, 3]
            await _statements_add_up(api, committed)
            for period in committed:
                code, out = await _verify(tmp_path, sim.url, api, period, "--delegator", "alice")
                assert code == 0, out
                assert "AGREES" in out
                assert "leaf of 'alice': equals the one recomputed from the chain" in out
                assert out.rstrip().endswith("VERIFIED")
            # A delegator's proof saved to a file, checked against a root given by hand.
            _status, proof = await _get(f"{api}/api/v1/delegators/carol/proofs/2")
            (tmp_path / "carol.json").write_bytes(proof)
            _status, body = await _get(f"{api}/api/v1/commitments/2")
            root = json.loads(body)["data"]["root"]
        # Without the daemon: the root as published, carol's proof file, the pool's validators.
        first = int(
            sqlite3.connect(db_path).execute("SELECT MIN(epoch) FROM ledger_epochs").fetchone()[0]
        )
        code, out = await _verify(
            tmp_path,
            sim.url,
            None,
            2,
            "--root",
            root,
            "--proof",
            str(tmp_path / "carol.json"),
            "--validators",
            f"{POOL[0]}..{POOL[-1]}",
            "--first-epoch",
            str(first),
            "--period-epochs",
            str(PERIOD),
        )
        assert code == 0, out
        assert "proof of 'carol': its leaf is in root" in out
        assert "leaf of 'carol': equals the one recomputed from the chain" in out
        # A forged root is refused.
        code, out = await _verify(
            tmp_path,
            sim.url,
            None,
            2,
            "--root",
            "00" * 32,
            "--validators",
            f"{POOL[0]}..{POOL[-1]}",
            "--first-epoch",
            str(first),
            "--period-epochs",
            str(PERIOD),
        )
        assert code == 1, out
        assert "MISMATCH root: the chain gives" in out

        # The slashed validator's settlement in its slashing window, altered by 1 Gwei.
        slashed = [r for r in detail_rows(db_path) if r[1] == SLASHED]
        altered = int(min(slashed, key=lambda r: int(r[2]))[0])
        alter_reward(db_path, altered, SLASHED, +1)
        async with _published(db_path) as api:
            code, out = await _verify(tmp_path, sim.url, api, altered // PERIOD)
        assert code == 1, out
        assert f"MISMATCH epoch {altered}, validator {SLASHED}: the settlement r_v" in out

        # A pool row: one Gwei moved from the delegators to the operator's fee.
        pool_epoch = 7
        alter_reward(db_path, altered, SLASHED, -1)
        _tamper(
            db_path,
            "DROP TRIGGER ledger_epochs_final_no_update",
            "UPDATE ledger_epochs SET fee_gwei = fee_gwei + 1, distributed_gwei ="
            f" distributed_gwei - 1 WHERE epoch = {pool_epoch}",
        )
        async with _published(db_path) as api:
            code, out = await _verify(
                tmp_path, sim.url, api, pool_epoch // PERIOD, "--delegator", "alice"
            )
            proof_status, _body = await _get(
                f"{api}/api/v1/delegators/alice/proofs/{pool_epoch // PERIOD}"
            )
        assert code == 1, out
        assert f"MISMATCH epoch {pool_epoch} (pool row): fee_gwei" in out
        # The daemon itself refuses to hand out a leaf its altered rows no longer give.
        assert proof_status == 409
