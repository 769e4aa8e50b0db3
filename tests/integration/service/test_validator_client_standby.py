"""Keys from a validator client on several hosts sharing one PostgreSQL ledger: the standby
follows the same pool as the writer without writing it (the writer journals the pool's changes;
a standby's writes are fenced), and an unreachable keymanager is told by its metric there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from stakepool.sim.server import SimServer
from tests.integration import pgkit
from tests.integration.service.test_validator_client_keys import SLOT_MS, TOKEN, Daemon, _until


async def _ready(session: aiohttp.ClientSession, base: str) -> dict[str, object]:
    async with session.get(f"{base}/readyz") as answer:
        body: dict[str, object] = await answer.json(content_type=None)
        return body if answer.status == 200 else {}


async def test_a_standby_with_keymanager_sources_follows_the_writers_pool(
    tmp_path: Path, postgres_admin: str
) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3))
    sim = SimServer(chain, auto_advance=True)
    keymanager = SimKeymanager(TOKEN, local=[1, 2])
    token_file = tmp_path / "api-token.txt"
    token_file.write_text(TOKEN + "\n")
    await sim.start()
    await keymanager.start()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[int]] = []
    try:
        with pgkit.fresh_database(postgres_admin) as url:
            bound: dict[str, list[str]] = {"a": [], "b": []}
            for name in ("a", "b"):
                settings = Settings(
                    beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
                    pool={"validators": [parse_validator_ref("0")]},
                    ledger={"database": url, "instance": name, "writer_lease_seconds": 2},
                    http={"port": 0},
                    validator_client=[
                        {"name": "vc-1", "url": keymanager.url, "token_file": str(token_file)}
                    ],
                )
                tasks.append(
                    asyncio.create_task(
                        run_daemon(
                            settings,
                            stop=stop,
                            on_listening=bound[name].append,
                            configure_logs=False,
                        )
                    )
                )
                if name == "a":  # the first is the writer: its lease before the second starts
                    await _until(lambda: _true(bool(bound["a"])), "the writer's HTTP server")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                await _until(lambda: _true(bool(bound["b"]) or tasks[1].done()), "the standby")
                assert not tasks[1].done(), f"the standby ended: exit {tasks[1].result()}"
                writer = Daemon(session, bound["a"][0], tmp_path / "unused")
                standby = Daemon(session, bound["b"][0], tmp_path / "unused")
                await _until(lambda: writer.rows(2), "validator 2 (from the keymanager) is paid")
                roles = {
                    "a": (await _ready(session, writer.base)).get("role"),
                    "b": await _until(lambda: _role(session, standby.base), "the standby is ready"),
                }
                assert roles == {"a": "writer", "b": "standby"}, roles
                # The same pool on both: the config's validator 0 and the keymanager's 1 and 2.
                for daemon in (writer, standby):
                    members = await _until(
                        lambda d=daemon: d.metric("stakepool_pool_members"), "pool members"
                    )
                    assert members == 3
                # The keymanager goes away: the standby says so too, and keeps running.
                await keymanager.stop()
                for daemon in (writer, standby):
                    await _until(
                        lambda d=daemon: _vc_down(d), "the keymanager's outage in the metric"
                    )
                assert not tasks[1].done()
                assert not tasks[0].done()
    finally:
        stop.set()
        codes = [await asyncio.wait_for(t, timeout=30) for t in tasks]
        await keymanager.stop()
        await sim.stop()
    assert codes == [0, 0]


async def _role(session: aiohttp.ClientSession, base: str) -> object:
    return (await _ready(session, base)).get("role")


async def _vc_down(daemon: Daemon) -> bool:
    return await daemon.metric("stakepool_validator_client_up", vc="vc-1") == 0.0


async def _true(value: bool) -> bool:
    return value
