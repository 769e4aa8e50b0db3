"""Two ``stakepool run`` on one PostgreSQL ledger: one writes, the other stands by; the writer is
SIGSTOPped, the standby takes over within two slots, and the old writer, SIGCONTed, writes
nothing (its term is fenced). The ledger then equals, row for row, that of a single instance on
SQLite that followed the same chain without interruption. The paused writer's MQTT will fires
late (past the keepalive, after the new writer said ``online``): the new writer answers it, and
the pool's retained status is ``online`` again.

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
from pathlib import Path

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration import pgkit
from tests.integration.money import fleet
from tests.integration.money.fleet import http, settled, start, wait_for, writer
from tests.integration.money.moneykit import SCENARIO, SPE, VALIDATORS, dump_ledger
from tests.integration.money.test_money_kill import DELEGATIONS
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Subscriber, retained_status
from tests.integration.processes import free_port
from tests.integration.simkit import HaltingSimServer

SEED = 20261207
SLOT_MS = 750
LEASE_SECONDS = 1.0
"""A writer silent this long loses the lock; a standby tries every quarter of it: a takeover
takes at most 1.25 s, under two slots of 750 ms."""
HALT_EPOCH = 11


KEEPALIVE = 5
"""MQTT keepalive of the instances: the broker fires a silent session's will after 1.5 × this."""
STATUS = "pool/fenced/status"


def _config(tmp: Path, name: str, url: str, database: str, port: int, mqtt_port: int) -> Path:
    if database.endswith(".sqlite"):
        return fleet.config(tmp, name, url, database, pool_id="fenced", http_port=port)
    return fleet.config(
        tmp, name, url, database, pool_id="fenced", http_port=port, lease_seconds=LEASE_SECONDS,
        mqtt_port=mqtt_port, topic_prefix="pool", keepalive_seconds=KEEPALIVE,
    )  # fmt: skip


async def test_a_paused_writer_is_fenced_and_the_standby_takes_over(
    tmp_path: Path, postgres_admin: str, broker: Mosquitto
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
        async with (
            HaltingSimServer(chain, HALT_EPOCH * SPE) as sim,
            Subscriber(broker.port, STATUS) as status,
        ):
            try:
                single = start(
                    _config(tmp_path, "single", sim.url, reference, ports["single"], broker.port),
                    tmp_path / "single.log",
                )
                a = start(
                    _config(tmp_path, "a", sim.url, url, ports["a"], broker.port),
                    tmp_path / "a.log",
                )
                procs = [single, a]
                await wait_for(lambda: writer(url)[1] == "a", "a is the writer", procs, 60)
                b = start(
                    _config(tmp_path, "b", sim.url, url, ports["b"], broker.port),
                    tmp_path / "b.log",
                )
                procs = [single, a, b]
                await wait_for(lambda: settled(url) >= 1, "a's first settled epoch", procs, 60)
                # The standby answers reads, says its role, and refuses writes naming the writer.
                await wait_for(
                    lambda: http(ports["b"], "/readyz")[1].get("role") == "standby",
                    "b ready as the standby",
                    procs,
                    30,
                )
                code, answer = http(
                    ports["b"],
                    "/api/v1/delegations",
                    {"delegations": [{"delegator": "zed", "amount_gwei": "1", "from_epoch": 0}]},
                )
                assert code == 409, answer
                assert "the ledger's writer is a" in json.dumps(answer)
                assert http(ports["a"], "/readyz")[1]["role"] == "writer"
                term_before = writer(url)[0]

                await asyncio.sleep(rng.uniform(0.0, 2 * epoch_seconds))
                a.send_signal(signal.SIGSTOP)
                stopped = time.monotonic()
                await wait_for(lambda: writer(url)[1] == "b", "b takes over", [single, b], 30)
                takeover = time.monotonic() - stopped
                print(
                    f"takeover after SIGSTOP: {takeover:.2f} s = {takeover / (SLOT_MS / 1000):.2f} slots"
                )
                assert takeover < 2 * SLOT_MS / 1000
                assert writer(url)[0] == term_before + 1
                # b settles while a sleeps, past the keepalive: the broker fires a's will late,
                # after b said `online`, and b answers it.
                await asyncio.sleep(max(epoch_seconds, 1.5 * KEEPALIVE + 2))
                said = [m.payload for m in status.messages if m.topic == STATUS]
                assert said[-2:] == ["offline", "online"], said
                assert await retained_status(broker.port, STATUS) == "online"
                a.send_signal(signal.SIGCONT)
                await wait_for(
                    lambda: http(ports["a"], "/readyz")[1].get("role") == "standby",
                    "a wakes up as a standby",
                    procs,
                    30,
                )
                await wait_for(
                    lambda: settled(url) >= last and settled(reference) >= last,
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
        assert writer(url) == (term_before + 1, "b")  # a never took it back
        shared = fleet.dump(url, last)
    alone = fleet.dump(reference, last)
    assert len(alone["ledger_epochs"]) >= last - 1
    assert dump_ledger(Path(reference))["ledger_epoch_reversals"] == []
    differ = fleet.differences(shared, alone)
    assert not differ, f"the ledgers differ after the takeover: {differ}"
