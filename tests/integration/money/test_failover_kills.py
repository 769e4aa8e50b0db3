"""SIGKILL of the ledger's writer at seeded random moments, two instances on one PostgreSQL
ledger: each time the other takes over, the killed one is started again and stands by (or
writes again, when it is the only one left), and in the end the ledger equals an uninterrupted
single SQLite instance's row for row, with every MQTT event id of that reference delivered.

Every other kill strikes a running pair, at a random moment within a third of an epoch; the others
strike soon after the last kill, often while the other instance is still starting, so the ledger
falls to an instance in its start-up. After each takeover the pool's retained MQTT status is
``online`` again (the killed writer's will said ``offline``). Each takeover, from the kill to the
successor's new term (its first write), is printed in slots.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from pathlib import Path

from tests.integration import pgkit
from tests.integration.money import fleet
from tests.integration.money.failover import MQTT_BATCH, SLOT_MS, Stage
from tests.integration.money.moneykit import ORPHANED_SLOT
from tests.integration.mqtt.broker import Mosquitto

SEED = 20261208
KILLS = 60 if os.environ.get("STAKEPOOL_SOAK", "") not in ("", "0") else 20


async def test_the_writer_killed_20_times_loses_nothing(
    tmp_path: Path, postgres_admin: str, broker: Mosquitto
) -> None:
    rng = random.Random(SEED)
    slot = SLOT_MS / 1000
    running: list[float] = []
    """Takeovers by an instance that was past its start-up at the kill."""
    starting: list[float] = []
    with pgkit.fresh_database(postgres_admin) as url:
        async with Stage(tmp_path, url, broker.port) as stage:
            # A reorg is told from the node's event stream as it happens: one that comes while
            # no instance listens (the writer killed, the other still starting) is told by none,
            # as for a single daemon that is down then. The kills begin once it is past.
            await stage.until(
                lambda: stage.chain.head_slot > ORPHANED_SLOT + 2, "the scenario's reorg", 60
            )
            for n in range(KILLS):
                if n % 2 == 0:  # a running pair: anywhere in the next third of an epoch
                    other = "b" if fleet.writer(url)[1] == "a" else "a"
                    await stage.until(lambda: stage.started(other), f"{other} started", 60)  # noqa: B023
                    await asyncio.sleep(rng.uniform(0.0, stage.epoch_seconds / 3))
                else:  # soon after the last kill: often while the other is still starting
                    await asyncio.sleep(rng.uniform(0.0, 1.5))
                term, holder = fleet.writer(url)
                other = "b" if holder == "a" else "a"
                successor_ready = stage.started(other)
                stage.kill(holder)
                killed = time.monotonic()
                await stage.until(lambda: fleet.writer(url)[0] > term, "a takeover", 60)  # noqa: B023
                (running if successor_ready else starting).append(time.monotonic() - killed)
                assert fleet.writer(url) == (term + 1, other)
                stage.restart(holder)  # at once, as systemd's Restart= or a pod's would
                # The killed writer's will said `offline`; its successor says `online` once its
                # MQTT session fits the new role, a moment after its first write.
                deadline = time.monotonic() + 10
                while (status := await stage.pool_status()) != "online":
                    assert time.monotonic() < deadline, f"the pool's status left {status}"
                    await asyncio.sleep(0.1)
            differ, lost, duplicates = await stage.finish(epochs_more=2)
    print(_figures("standby running", running, slot), _figures("standby starting", starting, slot))
    print(f"all {KILLS} kills: {_figures('takeover', running + starting, slot)}")
    assert not differ, f"the ledgers differ after {KILLS} kills: {differ}"
    assert lost == [], f"{len(lost)} events lost: {lost[:10]}"
    assert duplicates <= KILLS * MQTT_BATCH, duplicates
    assert len(running) >= KILLS // 4, "too few kills struck a running pair"
    # A running standby's takeover: the killed session's lock is free at once, tried every
    # quarter lease (the promise: within two slots).
    assert max(running) < 2 * slot, _figures("standby running", running, slot)


def _figures(what: str, seconds: list[float], slot: float) -> str:
    if not seconds:
        return f"{what}: none"
    slots = [s / slot for s in seconds]
    return (
        f"{what}: {len(slots)} takeovers, median {statistics.median(slots):.2f} slots,"
        f" max {max(slots):.2f} slots"
    )
