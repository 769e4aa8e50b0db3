"""The stage of the failover tests: two instances on one PostgreSQL ledger, a reference.

One simulated chain (the money ``SCENARIO``: a slashing, a top-up, an exit, an empty slot, a
reorg, delegators joining and leaving); instances ``a`` and ``b`` of pool ``failover`` share a
PostgreSQL ledger (``a`` starts first and is the writer) and publish under the topic prefix
``pool``; a single instance on SQLite follows the same chain untouched and publishes under
``ref``. A subscriber records every message of the broker. ``finish`` halts the chain, waits for
both ledgers to settle its last epoch and the outboxes to drain, stops everyone and compares: the
shared ledger equals the reference row for row, and every event id ``ref`` published arrived
under ``pool`` (duplicates are counted: only what was in flight may come twice).

An instance that exits when the test did not stop it fails the test; one the test kills is
started again (as systemd or Kubernetes would) with ``restart``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psycopg

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money import fleet
from tests.integration.money.moneykit import SCENARIO, SPE, VALIDATORS, dump_ledger
from tests.integration.money.test_money_kill import DELEGATIONS
from tests.integration.mqtt.kit import Subscriber, retained_status
from tests.integration.processes import free_port
from tests.integration.simkit import HaltingSimServer

SLOT_MS = 750
LEASE_SECONDS = 1.0
"""A writer silent this long loses the lock; a standby tries every quarter of it."""
POOL_ID = "failover"
MQTT_BATCH = 256
"""The publisher's batch: what one disturbance may leave in flight, delivered twice."""


def outbox_depth(url: str) -> int:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    except psycopg.Error:
        return -1
    return -1 if row is None else int(row[0])


class Stage:
    def __init__(self, tmp: Path, url: str, mqtt_port: int, *, instance_url: str = "") -> None:
        """``instance_url``: where ``a`` reaches the database (a proxy), default ``url``."""
        self.tmp = tmp
        self.url = url
        self.mqtt_port = mqtt_port
        self.reference = str(tmp / "ref.sqlite")
        self.ports = {name: free_port() for name in ("a", "b", "ref")}
        (tmp / "delegations.toml").write_text(DELEGATIONS)
        self.chain = SimChain(
            SimConfig(
                validators=VALIDATORS,
                preset="minimal",
                slot_duration_ms=SLOT_MS,
                seed=11,
                genesis_time=int(time.time()) + 8,  # every daemon is up before genesis
                scenario=SCENARIO,
                history_epochs=128,  # an instance back from a kill finds what it missed
            )
        )
        self.sim = HaltingSimServer(self.chain, 10_000 * SPE)
        self._instance_url = {"a": instance_url or url, "b": url}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()
        self.subscriber = Subscriber(mqtt_port, "#")
        self.last = -1

    @property
    def epoch_seconds(self) -> float:
        return SPE * SLOT_MS / 1000

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}-{self.starts[name]}.log"

    def _config(self, name: str) -> Path:
        if name == "ref":
            return fleet.config(
                self.tmp, "ref", self.sim.url, self.reference, pool_id=POOL_ID,
                http_port=self.ports["ref"], mqtt_port=self.mqtt_port, topic_prefix="ref",
            )  # fmt: skip
        return fleet.config(
            self.tmp, name, self.sim.url, self._instance_url[name], pool_id=POOL_ID,
            http_port=self.ports[name], lease_seconds=LEASE_SECONDS, mqtt_port=self.mqtt_port,
            topic_prefix="pool",
        )  # fmt: skip

    def restart(self, name: str) -> None:
        self.starts[name] += 1
        self.procs[name] = fleet.start(self._config(name), self.log(name))

    def started(self, name: str) -> bool:
        """The instance's present run said ``started`` (its start-up is over)."""
        log = self.log(name)
        return log.exists() and '"started"' in log.read_text(errors="replace")

    async def stop(self, name: str) -> int:
        """SIGTERM; the exit code. Waited for without blocking the loop: the simulator and the
        database proxy serve from it, and a stopping daemon still talks to them."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            assert time.monotonic() < deadline, f"{name} did not stop within 30 s"
            await asyncio.sleep(0.05)
        return proc.returncode

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        assert proc.poll() is None, f"{name} exited with {proc.returncode} before its kill"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL

    async def until(self, check: object, what: str, within: float) -> None:
        assert callable(check)
        await fleet.wait_for(check, what, list(self.procs.values()), within)

    async def __aenter__(self) -> Stage:
        await self.sim.start()
        await self.subscriber.__aenter__()
        self.restart("ref")
        self.restart("a")
        await self.until(lambda: fleet.writer(self.url)[1] == "a", "a is the writer", 60)
        self.restart("b")
        await self.until(lambda: fleet.settled(self.url) >= 1, "the first settled epoch", 90)
        await self.until(lambda: fleet.role(self.ports["b"]) == "standby", "b stands by", 30)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(timeout=10)
        with contextlib.suppress(Exception):
            await self.subscriber.__aexit__(None, None, None)
        await self.sim.stop()

    async def pool_status(self) -> str | None:
        return await retained_status(self.mqtt_port, f"pool/{POOL_ID}/status")

    async def finish(self, *, epochs_more: int = 3) -> tuple[dict[str, str], list[str], int]:
        """Halt the chain ``epochs_more`` epochs on, let everyone settle and drain, stop them;
        (tables differing, ref's event ids lost, duplicates under ``pool``)."""
        halt = self.chain.head_slot // SPE + epochs_more
        self.sim.halt_slot = halt * SPE
        self.last = halt - 2
        url, ref = self.url, self.reference
        await self.until(
            lambda: fleet.settled(url) >= self.last and fleet.settled(ref) >= self.last,
            f"epoch {self.last} settled on both ledgers",
            180,
        )
        await asyncio.sleep(self.epoch_seconds)  # the last finality reaches both
        with contextlib.suppress(AssertionError):  # a depth left over is reported as lost
            await self.until(lambda: outbox_depth(url) == 0, "the pool's outbox drained", 30)
        await asyncio.sleep(1.0)
        for name in ("b", "a", "ref"):
            if name in self.procs:  # else the test stopped it
                assert await self.stop(name) == 0, f"{name} did not stop cleanly"
        await asyncio.sleep(0.5)  # the last PUBLISHes reach the subscriber
        seen = [
            (m.topic, str(json.loads(m.payload)["event_id"]))
            for m in self.subscriber.messages
            if "/events/" in m.topic
        ]
        assert dump_ledger(Path(ref))["ledger_epoch_reversals"] == []
        alone = fleet.dump(ref, self.last)
        assert len(alone["ledger_epochs"]) >= self.last - 1
        differ = fleet.differences(fleet.dump(url, self.last), alone)
        got = Counter(i for topic, i in seen if topic.startswith("pool/"))
        wanted = {i: topic.split("/events/")[-1] for topic, i in seen if topic.startswith("ref/")}
        assert wanted, "the reference published no event: nothing was compared"
        lost = sorted(f"{kind}:{i[:12]}" for i, kind in wanted.items() if i not in got)
        return differ, lost, sum(n - 1 for n in got.values())
