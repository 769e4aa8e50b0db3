"""The writer's database connections cut through a TCP proxy, two instances on one PostgreSQL
ledger: the standby takes over within two slots, the cut writer (still running) writes nothing
once it lost the lock, and when the proxy lets it through again it rejoins as a standby. The
ledger then equals an uninterrupted single SQLite instance's row for row, no MQTT event id lost.

Then the retained pool status: the standby stops cleanly and the pool stays ``online`` (the
status topic is the writer's; a standby's stop says nothing there).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.integration import pgkit
from tests.integration.money import fleet
from tests.integration.money.failover import (
    LEASE_SECONDS,
    MQTT_BATCH,
    POOL_ID,
    SLOT_MS,
    Stage,
)
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Gate

SEED = 20261209
STATUS = f"pool/{POOL_ID}/status"


def _through(url: str, port: int) -> str:
    """``url`` with its server at ``127.0.0.1:port`` (the proxy)."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


async def test_a_writer_cut_from_its_database_is_fenced_and_rejoins(
    tmp_path: Path, postgres_admin: str, broker: Mosquitto
) -> None:
    rng = random.Random(SEED)
    slot = SLOT_MS / 1000
    with pgkit.fresh_database(postgres_admin) as url:
        proxy = Gate(urlsplit(url).port or 5432)  # a's every connection, lease and store alike
        await proxy.start()
        try:
            async with Stage(
                tmp_path, url, broker.port, instance_url=_through(url, proxy.port)
            ) as stage:
                await asyncio.sleep(rng.uniform(0.0, stage.epoch_seconds))
                term, holder = fleet.writer(url)
                assert holder == "a"
                proxy.cut()  # closed on both sides, new ones refused: the server ends a's session
                cut = time.monotonic()
                await stage.until(lambda: fleet.writer(url)[1] == "b", "b takes over", 30)
                takeover = time.monotonic() - cut
                print(f"takeover after the cut: {takeover:.2f} s = {takeover / slot:.2f} slots")
                assert takeover < 2 * slot
                # a keeps running, cut off for longer than its lease, then let through again.
                await asyncio.sleep(max(2 * LEASE_SECONDS, stage.epoch_seconds))
                assert fleet.role(stage.ports["a"]) == "standby"
                proxy.open = True
                await stage.until(
                    lambda: '"ledger_role_changed"' in stage.log("a").read_text(), "a's log", 5
                )
                await asyncio.sleep(stage.epoch_seconds)  # a, connected again, works on
                assert fleet.role(stage.ports["a"]) == "standby"
                assert fleet.writer(url) == (term + 1, "b"), "a took the writer's role back"

                assert await stage.pool_status() == "online"
                seen = len(stage.subscriber.messages)
                assert await stage.stop("a") == 0  # a standby's clean stop
                await asyncio.sleep(0.5)
                # Not even for a moment (the writer would answer an `offline` with `online`).
                said = [m.payload for m in stage.subscriber.messages[seen:] if m.topic == STATUS]
                assert said == [], f"a standby's stop spoke for the pool: {said}"
                assert await stage.pool_status() == "online"
                differ, lost, duplicates = await stage.finish(epochs_more=2)
        finally:
            await proxy.close()
    assert not differ, f"the ledgers differ after the cut: {differ}"
    assert lost == [], f"{len(lost)} events lost: {lost[:10]}"
    assert duplicates <= MQTT_BATCH, duplicates
