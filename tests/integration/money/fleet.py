"""``stakepool run`` processes of the money tests: started, watched, and their ledgers read.

Shared by the SIGKILL test of one SQLite daemon (``test_money_kill``) and the tests of several
instances on one PostgreSQL ledger (``test_fenced_writer``, ``test_failover_*``): a daemon's
config, its process, waiting on it, the writer's row, and a ledger dumped from either engine.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from stakepool.ledger.store import detail_sql
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from tests.integration.money.moneykit import LEDGER_TABLES, POOL
from tests.integration.processes import STAKEPOOL, clean_env

TOKEN = "fleet-token"
Rows = list[tuple[object, ...]]


def config(
    tmp: Path,
    name: str,
    beacon_url: str,
    database: str | Path,
    *,
    pool_id: str,
    http_port: int = 0,
    lease_seconds: float | None = None,
    mqtt_port: int | None = None,
    topic_prefix: str = "stakepool",
    keepalive_seconds: int = 30,
) -> Path:
    """A daemon's config: the money pool, ``tmp/delegations.toml``, its database; on a
    PostgreSQL ledger (``lease_seconds``) its instance name is ``name``."""
    path = tmp / f"{name}.toml"
    text = (
        f'[beacon]\nurls = ["{beacon_url}"]\n'
        f'[pool]\nid = "{pool_id}"\nvalidators = {POOL}\nfee_bps = 500\n'
        f'delegations_file = "{tmp / "delegations.toml"}"\n'
        "delegations_stable_seconds = 0\n"  # written whole before the start
        f'[http]\nport = {http_port}\ntoken = "{TOKEN}"\n'
        f'[ledger]\ndatabase = "{database}"\n'
    )
    if lease_seconds is not None:
        text += f'instance = "{name}"\nwriter_lease_seconds = {lease_seconds}\n'
    if mqtt_port is not None:
        text += f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\ntopic_prefix = "{topic_prefix}"\n'
        text += f"keepalive_seconds = {keepalive_seconds}\n"
        # Takeovers and kills keep a ledger from progressing for a while: catch up, never skip.
        text += "[monitor]\ncatch_up_epochs = 1024\n"
    path.write_text(text + '[log]\nformat = "json"\n')
    return path


def start(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )


async def wait_for(
    check: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]], s: float
) -> None:
    """Until ``check()`` (bounded by ``s``); fails at once if one of ``procs`` exits."""
    deadline = time.monotonic() + s
    while not check():
        for p in procs:
            assert p.poll() is None, f"{p.args!r} exited with {p.returncode} waiting for {what}"
        assert time.monotonic() < deadline, f"not within {s} s: {what}"
        await asyncio.sleep(0.02)


def writer(url: str) -> tuple[int, str]:
    """(term, holder) of the ledger's writer; (-1, "") before the first daemon migrated."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT term, holder FROM ledger_writer WHERE id = 1").fetchone()
    except psycopg.Error:
        return -1, ""
    return (-1, "") if row is None else (int(row[0]), str(row[1]))


def settled(target: str) -> int:
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


def dump(target: str, last: int) -> dict[str, Rows]:
    """Every ledger table (``moneykit.LEDGER_TABLES``) of either engine, cut at ``last``."""

    def read(conn: Connection) -> dict[str, Rows]:
        out: dict[str, Rows] = {}
        for table, query in LEDGER_TABLES.items():
            if table == "validator_epochs":
                rows = detail_sql.row_tuples(conn)
            elif table == "ledger_epoch_reversals":
                continue  # audit rows of reorgs: none in these runs (asserted on SQLite)
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


def differences(got: dict[str, Rows], want: dict[str, Rows]) -> dict[str, str]:
    """Per table that differs, its first differing row (empty: the ledgers are the same)."""
    return {t: _first_diff(got[t], rows) for t, rows in want.items() if got[t] != rows}


def _first_diff(got: Rows, want: Rows) -> str:
    for g, w in zip(got, want, strict=False):
        if g != w:
            cols = [(i, x, y) for i, (x, y) in enumerate(zip(g, w, strict=False)) if x != y]
            return f"row {g[:2]}: columns {cols}"
    return f"lengths {len(got)} != {len(want)}"


def http(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
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
    except OSError:
        return 0, {}  # not listening (yet, or any more)


def role(port: int) -> str:
    """What ``/readyz`` says of the ledger role ("" when it does not answer)."""
    answer = http(port, "/readyz")[1]
    return str(answer.get("role", "")) if isinstance(answer, dict) else ""
