"""Two ``stakepool run`` on one PostgreSQL ledger: one writes, the other stands by; the writer is
SIGSTOPped, the standby takes over within two slots, and the old writer, SIGCONTed, writes
nothing (its term is fenced). The ledger then equals, row for row, that of a single instance on
SQLite that followed the same chain without interruption.

One simulated chain (the money scenario), served in-process and halted at ``HALT_EPOCH`` so every
daemon settles the same epochs; the moment of the SIGSTOP is seeded.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from stakepool.ledger.store import detail_sql
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration import pgkit
from tests.integration.money.moneykit import LEDGER_TABLES, POOL, SCENARIO, SPE, VALIDATORS
from tests.integration.money.test_money_kill import DELEGATIONS
from tests.integration.processes import STAKEPOOL, clean_env, free_port
from tests.integration.simkit import HaltingSimServer

SEED = 20261207
SLOT_MS = 750
LEASE_SECONDS = 1.0
"""A writer silent this long loses the lock; a standby tries every quarter of it: a takeover
takes at most 1.25 s, under two slots of 750 ms."""
HALT_EPOCH = 11
TOKEN = "fenced-writer-token"
Rows = list[tuple[object, ...]]


def _config(tmp: Path, name: str, url: str, database: str, port: int) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[beacon]\nurls = ["{url}"]\n'
        f'[pool]\nid = "fenced"\nvalidators = {POOL}\nfee_bps = 500\n'
        f'delegations_file = "{tmp / "delegations.toml"}"\n'
        "delegations_stable_seconds = 0\n"
        f'[http]\nport = {port}\ntoken = "{TOKEN}"\n'
        f'[ledger]\ndatabase = "{database}"\ninstance = "{name}"\n'
        f"writer_lease_seconds = {LEASE_SECONDS}\n"
        '[log]\nformat = "json"\n'
    )
    return path


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )


async def _wait_for(
    check: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]], s: float
) -> None:
    deadline = time.monotonic() + s
    while not check():
        for p in procs:
            assert p.poll() is None, f"{p.args!r} exited with {p.returncode} waiting for {what}"
        assert time.monotonic() < deadline, f"not within {s} s: {what}"
        await asyncio.sleep(0.02)


def _writer(url: str) -> tuple[int, str]:
    """(term, holder) of the ledger's writer; (-1, "") before the first daemon migrated."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT term, holder FROM ledger_writer WHERE id = 1").fetchone()
    except psycopg.Error:
        return -1, ""
    assert row is not None
    return int(row[0]), str(row[1])


def _settled(target: str) -> int:
    """The last settled epoch of a ledger another process writes; -1: none (or not created)."""
    try:
        db = Database.open_read_only(target)
    except Exception:
        return -1
    try:
        found = db.read_sync(lambda c: c.execute("SELECT MAX(epoch) FROM ledger_epochs").fetchone())
        return -1 if found is None or found[0] is None else int(found[0])
    except Exception:
        return -1
    finally:
        db.close()


def _dump(target: str, last: int) -> dict[str, Rows]:
    def read(conn: Connection) -> dict[str, Rows]:
        out: dict[str, Rows] = {}
        for table, query in LEDGER_TABLES.items():
            if table == "validator_epochs":
                rows = detail_sql.row_tuples(conn)
            elif table == "ledger_epoch_reversals":
                continue  # audit rows of reorgs: none in this run (asserted on SQLite)
            else:
                rows = [tuple(r) for r in conn.execute(query)]
            if table in ("ledger_epochs", "validator_epochs"):
                rows = [r for r in rows if int(str(r[0])) <= last]
            out[table] = rows
        return out

    db = Database.open_read_only(target)
    try:
        return db.read_sync(read)
    finally:
        db.close()


def _http(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_a_paused_writer_is_fenced_and_the_standby_takes_over(
    tmp_path: Path, postgres_admin: str
) -> None:
    rng = random.Random(SEED)
    (tmp_path / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=11,
            genesis_time=int(time.time()) + 8,  # every daemon is up before genesis
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    epoch_seconds = SPE * SLOT_MS / 1000
    last = HALT_EPOCH - 2
    reference = str(tmp_path / "single.sqlite")
    ports = {name: free_port() for name in ("a", "b", "single")}
    procs: list[subprocess.Popen[bytes]] = []
    with pgkit.fresh_database(postgres_admin) as url:
        async with HaltingSimServer(chain, HALT_EPOCH * SPE) as sim:
            try:
                single = _start(
                    _config(tmp_path, "single", sim.url, reference, ports["single"]),
                    tmp_path / "single.log",
                )
                a = _start(_config(tmp_path, "a", sim.url, url, ports["a"]), tmp_path / "a.log")
                procs = [single, a]
                await _wait_for(lambda: _writer(url)[1] == "a", "a is the writer", procs, 60)
                b = _start(_config(tmp_path, "b", sim.url, url, ports["b"]), tmp_path / "b.log")
                procs = [single, a, b]
                await _wait_for(lambda: _settled(url) >= 1, "a's first settled epoch", procs, 60)
                # The standby answers reads, says its role, and refuses writes naming the writer.
                await _wait_for(
                    lambda: _http(ports["b"], "/readyz")[1].get("role") == "standby",
                    "b ready as the standby",
                    procs,
                    30,
                )
                code, answer = _http(
                    ports["b"],
                    "/api/v1/delegations",
                    {"delegations": [{"delegator": "zed", "amount_gwei": "1", "from_epoch": 0}]},
                )
                assert code == 409, answer
                assert "the ledger's writer is a" in json.dumps(answer)
                assert _http(ports["a"], "/readyz")[1]["role"] == "writer"
                term_before = _writer(url)[0]

                await asyncio.sleep(rng.uniform(0.0, 2 * epoch_seconds))
                a.send_signal(signal.SIGSTOP)
                stopped = time.monotonic()
                await _wait_for(lambda: _writer(url)[1] == "b", "b takes over", [single, b], 30)
                takeover = time.monotonic() - stopped
                print(
                    f"takeover after SIGSTOP: {takeover:.2f} s = {takeover / (SLOT_MS / 1000):.2f} slots"
                )
                assert takeover < 2 * SLOT_MS / 1000
                assert _writer(url)[0] == term_before + 1
                await asyncio.sleep(epoch_seconds)  # b settles while a sleeps
                a.send_signal(signal.SIGCONT)
                await _wait_for(
                    lambda: _http(ports["a"], "/readyz")[1].get("role") == "standby",
                    "a wakes up as a standby",
                    procs,
                    30,
                )
                await _wait_for(
                    lambda: _settled(url) >= last and _settled(reference) >= last,
                    f"epoch {last} settled on both ledgers",
                    procs,
                    180,
                )
                await asyncio.sleep(epoch_seconds)  # the last finality reaches both
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGCONT)
                        p.send_signal(signal.SIGTERM)
                codes = [p.wait(timeout=30) for p in procs]
        assert codes == [0, 0, 0]
        assert _writer(url) == (term_before + 1, "b")  # a never took it back
        shared = _dump(url, last)
    alone = _dump(reference, last)
    assert len(alone["ledger_epochs"]) >= last - 1
    differ = {t: _first_diff(shared[t], rows) for t, rows in alone.items() if shared[t] != rows}
    assert not differ, f"the ledgers differ after the takeover: {differ}"


def _first_diff(got: Rows, want: Rows) -> str:
    for g, w in zip(got, want, strict=False):
        if g != w:
            cols = [(i, x, y) for i, (x, y) in enumerate(zip(g, w, strict=False)) if x != y]
            return f"row {g[:2]}: columns {cols}"
    return f"lengths {len(got)} != {len(want)}"
