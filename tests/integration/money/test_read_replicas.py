"""``[ledger] read_urls`` on a real streaming replica: a private primary and a hot standby cloned
from it (``pg_basebackup -R``), one ``stakepool run`` with ``database`` = the primary and
``read_urls`` = [the standby], following a simulated chain.

The API's reads come from the standby: with its replay paused, the API shows the epoch the standby
has while the primary settles on (what replica lag means to a delegator); resumed, the API's
figures equal the primary's. The standby stopped, the same requests are answered by the primary,
with a warning and ``stakepool_ledger_read_fallbacks_total``. Writes (settlement, an API
delegation) go to the primary throughout: the daemon never meets a standby's refusal to write.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration import pgkit
from tests.integration.money import fleet
from tests.integration.money.moneykit import GWEI, POOL, SCENARIO, SPE, VALIDATORS
from tests.integration.money.test_money_kill import DELEGATIONS
from tests.integration.processes import free_port
from tests.integration.simkit import HaltingSimServer

SLOT_MS = 300
HALT_EPOCH = 7
TOKEN = "replica-test-token"
CREDENTIAL = "Credential-Replica-Pw"
INLINE = "Inline-Replica-Pw"
READS = ("/pool", "/pool/epochs", "/validators", "/delegators", "/delegators/alice")


def _config(tmp: Path, sim: str, database: str, replica: str, port: int) -> Path:
    path = tmp / "replicas.toml"
    path.write_text(
        f'[beacon]\nurls = ["{sim}"]\n'
        f'[pool]\nid = "replicas"\nvalidators = {POOL}\nfee_bps = 500\n'
        f'delegations_file = "{tmp / "delegations.toml"}"\n'
        "delegations_stable_seconds = 0\n"
        f'[http]\nport = {port}\ntoken = "{TOKEN}"\n'
        f'[ledger]\ndatabase = "{database}"\nread_urls = ["{replica}"]\n'
        f'password = "{CREDENTIAL}"\n'  # trust auth ignores it; it must never be printed
        '[log]\nformat = "json"\n'
    )
    return path


def _one(url: str, sql: str) -> Any:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def _settled(url: str) -> int:
    try:
        found = _one(url, "SELECT MAX(epoch) FROM ledger_epochs")
    except psycopg.Error:
        return -1  # not created yet (or not replayed yet)
    return -1 if found is None else int(found)


def _mark(url: str) -> tuple[Any, ...]:
    """What moves while the ledger is written: its epochs, final rows and journal."""
    return tuple(
        _one(url, sql)
        for sql in (
            "SELECT MAX(epoch) FROM ledger_epochs",
            "SELECT count(*) FROM ledger_epochs WHERE status = 'final'",
            "SELECT MAX(id) FROM delegation_journal",
        )
    )


class Daemon:
    def __init__(self, session: aiohttp.ClientSession, port: int, proc: subprocess.Popen[bytes]):
        self.session = session
        self.base = f"http://127.0.0.1:{port}"
        self.proc = proc

    async def get(self, path: str) -> Any:
        async with self.session.get(self.base + path) as r:
            assert r.status == 200, (path, r.status, await r.text())
            return await r.json()

    async def reads(self) -> dict[str, Any]:
        return {p: (await self.get("/api/v1" + p))["data"] for p in READS}

    async def metric(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        async with self.session.get(self.base + "/metrics") as r:
            text = await r.text()
        return {
            tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        }

    async def wait(self, check: Callable[[], Awaitable[bool]], what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not await check():
            assert self.proc.poll() is None, f"the daemon exited waiting for {what}"
            assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
            await asyncio.sleep(0.1)


async def test_api_reads_come_from_the_replica_and_fall_back_to_the_primary(
    tmp_path: Path,
) -> None:
    (tmp_path / "delegations.toml").write_text(DELEGATIONS)
    chain = SimChain(
        SimConfig(
            validators=VALIDATORS,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=11,
            genesis_time=int(time.time()) + 4,
            scenario=SCENARIO,
            history_epochs=64,
        )
    )
    epoch_seconds = SPE * SLOT_MS / 1000
    port = free_port()
    log = tmp_path / "daemon.log"
    with pgkit.streaming_pair() as pair, pgkit.fresh_database(pair.primary) as primary:
        replica = pgkit.database_url(pair.replica, primary.rsplit("/", 1)[1])
        shown_replica = replica.replace("postgres@", f"postgres:{INLINE}@")
        async with (
            HaltingSimServer(chain, HALT_EPOCH * SPE) as sim,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        ):
            config = _config(tmp_path, sim.url, primary, shown_replica, port)
            proc = fleet.start(config, log)
            daemon = Daemon(session, port, proc)
            try:
                await _scenario(daemon, primary, replica, pair, epoch_seconds)
            finally:
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=30)
    lines = log.read_text()
    assert code == 0, lines[-3000:]
    assert CREDENTIAL not in lines
    assert INLINE not in lines
    # A standby refuses every write (SQLSTATE 25006): the daemon never sent it one.
    assert "read-only transaction" not in lines
    assert "25006" not in lines
    events = [json.loads(x) for x in lines.splitlines() if x.startswith("{")]
    warned = [e for e in events if e.get("event") == "ledger_read_replica_failed"]
    assert warned, "no warning named the failed replica"
    assert all("***@" in e["replica"] for e in warned), warned


async def _scenario(
    daemon: Daemon, primary: str, replica: str, pair: pgkit.StreamingPair, epoch_seconds: float
) -> None:
    async def status() -> dict[str, Any]:
        data: dict[str, Any] = (await daemon.get("/api/v1/status"))["data"]
        return data

    async def settled(at_least: int) -> bool:
        return _settled(primary) >= at_least

    await daemon.wait(lambda: settled(1), "the first settled epoch", 90)
    # The API's reads are the replica's sessions, named so in its pg_stat_activity.
    await status()
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'stakepool-reads'"
    assert _one(replica, sessions) >= 1
    assert _one(primary, sessions) == 0

    # Replay paused: the primary settles on, the API shows what the replica has.
    _one(replica, "SELECT pg_wal_replay_pause()")

    async def paused() -> bool:  # a pause is requested, then replay stops at a record boundary
        return bool(_one(replica, "SELECT pg_get_wal_replay_pause_state() = 'paused'"))

    await daemon.wait(paused, "the replica's replay paused", 10)
    held = _settled(replica)
    await daemon.wait(lambda: settled(held + 2), "two more epochs on the primary", 60)
    assert (await status())["last_settled_epoch"] == held == _settled(replica)

    async def lagging() -> bool:
        await status()  # the lag is measured after a read
        return any(
            v > 0
            for v in (await daemon.metric("stakepool_ledger_read_replica_lag_seconds")).values()
        )

    await daemon.wait(lagging, "the replica's lag measured", 30)

    # A write through the API goes to the primary (the replica would refuse it).
    async with daemon.session.post(
        daemon.base + "/api/v1/delegations",
        json={"delegations": [{"delegator": "zed", "amount_gwei": str(GWEI), "from_epoch": 0}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as r:
        assert r.status == 200, await r.text()
    assert _one(primary, "SELECT count(*) FROM delegators WHERE id = 'zed'") == 1

    # Resumed and caught up (the chain halted): the API's figures are the primary's.
    _one(replica, "SELECT pg_wal_replay_resume()")
    last = HALT_EPOCH - 2
    await daemon.wait(lambda: settled(last), f"epoch {last} settled", 60)
    marks = [_mark(primary)]

    async def still() -> bool:  # the halted chain's last settlement and finality are in
        await asyncio.sleep(epoch_seconds)
        marks.append(_mark(primary))
        return marks[-1] == marks[-2]

    await daemon.wait(still, "the ledger at rest", 60)
    lsn = _one(primary, "SELECT pg_current_wal_lsn()::text")

    async def replayed() -> bool:
        return bool(_one(replica, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"))

    await daemon.wait(replayed, "the replica replays the primary", 30)
    from_replica = await daemon.reads()
    assert (await status())["last_settled_epoch"] == _settled(primary)
    assert any(d["id"] == "zed" for d in from_replica["/delegators"])
    assert await daemon.metric("stakepool_ledger_read_fallbacks_total") == {(): 0.0}

    # The replica stopped: the same reads, answered by the primary, counted and warned.
    pair.stop_replica()
    from_primary = await daemon.reads()
    assert from_primary == from_replica
    fallbacks = await daemon.metric("stakepool_ledger_read_fallbacks_total")
    assert fallbacks[()] >= len(READS), fallbacks
