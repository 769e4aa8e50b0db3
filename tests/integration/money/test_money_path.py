"""The money path end to end: the daemon follows the simulated chain (a slashing, withdrawal
sweeps, a top-up deposit, an exit, an empty slot and a reorg) while delegators join and leave
through the delegations file, the file watcher and ``POST /api/v1/delegations``; then the ledger is
checked against the simulator's own books and the HTTP API against the ledger's tables.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

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
from tests.integration.api.conftest import ApiClient
from tests.integration.money.moneykit import (
    GWEI,
    POOL,
    SCENARIO,
    SLASHED,
    TOP_UP,
    TOPPED_UP,
    VALIDATORS,
    detail_rows,
    sim_truth,
    withdrawals_of,
)

TOKEN = "money path token"
POOL_ID = "sim-pool"
LAST_SETTLED = 13
LAST_FINAL = 8
FILE_V1 = """
[[delegation]]
delegator = "alice"
amount_gwei = 32_000_000_000
from_epoch = 0

[[delegation]]
delegator = "bob"
amount_gwei = 16_000_000_000
from_epoch = 0
to_epoch = 6

[[delegation]]
delegator = "carol"
amount_gwei = 8_000_000_000
from_epoch = 5
"""
FILE_V2 = (
    FILE_V1
    + """
[[delegation]]
delegator = "dave"
amount_gwei = 10_000_000_000
from_epoch = 0
"""
)


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        beacon={"urls": [url], "timeout_seconds": 5, "retries": 2},
        pool={
            "id": POOL_ID,
            "validators": [parse_validator_ref(v) for v in POOL],
            "delegations_file": str(tmp / "delegations.toml"),
            "delegations_stable_seconds": 0,  # the test writes each version whole
            "fee_bps": 1000,
        },
        http={"port": 0, "token": TOKEN},
        ledger={"database": str(tmp / "ledger.sqlite")},
    )


async def _json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as r:
        return {"status": r.status, "body": await r.json() if r.status < 500 else None}


async def _poll(session: aiohttp.ClientSession, url: str, ok: Any, what: str, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        answer = await _json(session, url)
        if ok(answer):
            return answer
        assert time.monotonic() < deadline, f"not within {within} s: {what}; last {answer}"
        await asyncio.sleep(0.2)


def _sql(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(query)]
    finally:
        conn.close()


async def test_money_path_on_the_simulator(tmp_path: Path) -> None:
    (tmp_path / "delegations.toml").write_text(FILE_V1)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=150,
            seed=11,
            genesis_time=int(time.time()) + 2,  # the daemon is up before genesis
            scenario=SCENARIO,
            history_epochs=64,  # the books of every settled epoch stay readable
        )
    )
    db_path = tmp_path / "ledger.sqlite"
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = _settings(sim.url, tmp_path)
        daemon = asyncio.create_task(
            run_daemon(settings, stop=stop, configure_logs=False, on_listening=listening.set_result)
        )
        try:
            base = await asyncio.wait_for(listening, 20)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
                status = f"{base}/api/v1/status"
                await _poll(
                    http,
                    status,
                    lambda a: (a["body"]["data"]["last_settled_epoch"] or 0) >= 3,
                    "epoch 3 settled",
                    60,
                )
                # erin joins through the API (effective at the ledger's next epoch) ...
                async with http.post(
                    f"{base}/api/v1/delegations",
                    json={
                        "delegations": [
                            {"delegator": "erin", "amount_gwei": str(4 * GWEI), "from_epoch": 0}
                        ]
                    },
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as r:
                    assert r.status == 200, await r.text()
                    erin_from = (await r.json())["data"]["effective_epoch"]
                # ... then dave joins through the file: the watcher applies it, erin stays.
                (tmp_path / "delegations.toml").write_text(FILE_V2)
                await _poll(
                    http,
                    f"{base}/api/v1/delegators/dave",
                    lambda a: a["status"] == 200,
                    "the watcher applied the file",
                    30,
                )
                erin = await _json(http, f"{base}/api/v1/delegators/erin")
                assert erin["status"] == 200
                assert erin["body"]["data"]["principal_gwei"] == str(4 * GWEI)
                await _poll(
                    http,
                    status,
                    lambda a: (
                        (a["body"]["data"]["last_settled_epoch"] or 0) >= LAST_SETTLED
                        and (a["body"]["data"]["last_final_epoch"] or 0) >= LAST_FINAL
                    ),
                    f"epoch {LAST_SETTLED} settled and {LAST_FINAL} final",
                    120,
                )
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, 20) == 0

        # --- the ledger against the simulator's own books ------------------------------------
        rows = [(r[0], r[1], r[2], r[4], r[8]) for r in detail_rows(db_path)]
        epochs = sorted({int(r[0]) for r in rows})
        assert epochs == list(range(epochs[0], epochs[-1] + 1))
        assert epochs[0] <= 2
        assert epochs[-1] >= LAST_SETTLED
        assert {int(r[1]) for r in rows} == set(POOL)
        for epoch, v, reward, residual, _status in rows:
            assert residual == 0, (epoch, v, residual)
            assert reward == sim_truth(chain, epoch, v), (epoch, v)
        by_key = {(int(r[0]), int(r[1])): int(r[2]) for r in rows}
        # The scenario really happened inside the settled epochs.
        assert any(withdrawals_of(chain, k, v) > 0 for k in epochs for v in POOL)
        # The slashing penalty (effective balance / 4096 under Electra) lands in one window.
        assert min(by_key[(k, SLASHED)] for k in epochs) < -(32 * GWEI // 4096) // 2
        deposits = [
            d
            for k in epochs
            if (o := chain.epoch_outcome(k - 1)) is not None
            for d in o.deposits_applied
            if d.validator_index == TOPPED_UP
        ]
        assert sum(d.amount for d in deposits) == TOP_UP  # applied once, reward-neutral
        statuses = {int(r[0]): r[4] for r in rows}
        assert statuses[epochs[0]] == "final"
        assert statuses[epochs[-1]] == "provisional"
        final = [k for k in epochs if statuses[k] == "final"]
        assert final == epochs[: len(final)]  # final is a prefix: older epochs first

        # --- the HTTP API against the ledger's own tables -----------------------------------
        await _check_api(settings, db_path, epochs, erin_from)


async def _check_api(settings: Settings, db_path: Path, epochs: list[int], erin_from: int) -> None:
    db = Database.open(str(db_path))
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=settings.pool.policy())
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
            await _compare(api, db_path, epochs, erin_from)
    finally:
        await server.stop()
        db.close()


async def _compare(api: ApiClient, db_path: Path, epochs: list[int], erin_from: int) -> None:
    table = _sql(
        db_path,
        "SELECT epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei,"
        " distributed_gwei, total_weight_gwei, bond_delta_gwei, unassigned_gwei"
        " FROM ledger_epochs ORDER BY epoch",
    )
    got = (await api.get("/api/v1/pool/epochs", query={"from": "0", "to": "99"})).data
    assert [
        (
            e["epoch"],
            e["status"],
            int(e["reward_cl_gwei"]),
            None if e["reward_el_gwei"] is None else int(e["reward_el_gwei"]),
            int(e["reward_gwei"]),
            int(e["fee_gwei"]),
            int(e["distributed_gwei"]),
            int(e["total_weight_gwei"]),
            int(e["bond_delta_gwei"]),
            int(e["unassigned_gwei"]),
        )
        for e in got
    ] == table
    proposed = {int(r[0]) for r in detail_rows(db_path) if int(r[6]) > 0}
    assert proposed
    for e in got:  # no execution node: a pool proposal's EL reward is unknown, never 0
        assert (e["reward_el_gwei"] is None) == (e["epoch"] in proposed), e

    pool = (await api.get("/api/v1/pool")).data

    def pair(name: str, column: str) -> dict[str, str]:
        final = sum(int(r[column_index[column]]) for r in table if r[1] == "final")
        total = sum(int(r[column_index[column]]) for r in table)
        return {"final": str(final), "total": str(total)}

    column_index = {"reward": 4, "fee": 5, "distributed": 6}
    assert pool["rewards_gwei"] == pair("rewards", "reward")
    assert pool["fees_gwei"] == pair("fees", "fee")
    assert pool["distributed_gwei"] == pair("distributed", "distributed")
    assert pool["last_settled_epoch"] == epochs[-1]
    assert pool["last_final_epoch"] == max(r[0] for r in table if r[1] == "final")
    assert all(int(r[8]) == 0 and int(r[9]) == 0 for r in table)  # socialized, always weighted

    # Validators: the API rows are the ledger's rows.
    for v in POOL:
        answer = await api.get(f"/api/v1/validators/{v}/epochs", query={"from": "0", "to": "99"})
        expected = [(r[0], r[8], r[2], r[4]) for r in detail_rows(db_path) if r[1] == v]
        assert [
            (r["epoch"], r["status"], int(r["reward_gwei"]), int(r["residual_gwei"]))
            for r in answer.data
        ] == expected
        assert all(r["components_gwei"] is not None for r in answer.data)

    # Delegators: each one's accrued share within 1 Gwei of the exact share of every epoch,
    # and conservation: Σ credits + dust + fees (+ bond + unassigned, 0 here) == Σ rewards.
    ids = ["alice", "bob", "carol", "dave", "erin"]
    listed = (await api.get("/api/v1/delegators", query={"limit": "100"})).data
    assert sorted(d["id"] for d in listed) == ids
    accrued_total = 0
    accrued_final = 0
    by_epoch = {int(r[0]): r for r in table}
    for delegator in ids:
        detail = (await api.get(f"/api/v1/delegators/{delegator}")).data
        rows = (
            await api.get(f"/api/v1/delegators/{delegator}/epochs", query={"from": "0", "to": "99"})
        ).data
        exact = sum(
            (
                Fraction(int(by_epoch[r["epoch"]][6]) * int(r["weight_gwei"]))
                / int(by_epoch[r["epoch"]][7])
                for r in rows
                if int(r["weight_gwei"]) > 0
            ),
            Fraction(0),
        )
        total = int(detail["accrued_gwei"]["total"])
        assert abs(total - exact) <= 1, (delegator, total, float(exact))
        assert total == sum(int(r["credit_gwei"]) for r in rows)
        accrued_total += total
        accrued_final += int(detail["accrued_gwei"]["final"])
        weights = {r["epoch"]: int(r["weight_gwei"]) for r in rows}
        if delegator == "bob":  # left at epoch 6
            assert all(w == 0 for e, w in weights.items() if e >= 6)
            assert any(w == 16 * GWEI for e, w in weights.items() if e < 6)
        if delegator == "carol":  # joined at epoch 5
            assert all(w == 0 for e, w in weights.items() if e < 5)
            assert all(w == 8 * GWEI for e, w in weights.items() if e >= 5)
        if delegator == "erin":  # joined through the API, kept when the file changed
            assert all(w == 4 * GWEI for e, w in weights.items() if e >= erin_from)
    dust = pool["dust_gwei"]
    assert accrued_total + int(dust["total"]) == int(pool["distributed_gwei"]["total"])
    assert accrued_final + int(dust["final"]) == int(pool["distributed_gwei"]["final"])
    assert 0 <= int(dust["total"]) < len(ids) * len(table)
    assert int(pool["fees_gwei"]["total"]) + int(pool["distributed_gwei"]["total"]) == int(
        pool["rewards_gwei"]["total"]
    )
    assert json.dumps(pool)  # plain JSON all the way
