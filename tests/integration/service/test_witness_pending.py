"""A disagreement waiting for finality survives a restart: it is kept in the transaction of its
own event (outbox row and kept state together), and a new witness on the same database resolves
it at finality (no node is asked here: keeping and restoring is what is checked)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from stakepool.beacon.client import BeaconClient
from stakepool.chain.bus import EventBus
from stakepool.chain.types import Epoch
from stakepool.monitor.daemon_events import CrossCheckDisagreed
from stakepool.service.event_sink import EventSink
from stakepool.service.witness_finality import PENDING_KEY, FinalityJudge, Pending
from stakepool.store.database import Database

UNUSED = "http://127.0.0.1:9"  # never asked: only keeping and restoring run here


async def _never(client: BeaconClient, epoch: int, indices: list[int]) -> list[int]:
    raise AssertionError("no correction in this test")


async def test_a_pending_disagreement_is_kept_with_its_event_and_restored(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    event = CrossCheckDisagreed(
        epoch=Epoch(3),
        primary="http://primary:5052",
        witness="http://witness:5052",
        validators=(7,),
        primary_delta_gwei=("1001",),
        witness_delta_gwei=("1000",),
    )
    pending = Pending(indices=(3, 7, 12), differ=(7,), provisional={7: 1001})
    clients = [BeaconClient([UNUSED]), BeaconClient([UNUSED])]
    try:
        db = Database.open(path)
        sink = EventSink(db, EventBus(), pool_id="p", outbox_max_rows=100)
        judge = FinalityJudge(("p", clients[0]), ("w", clients[1]), sink, _never)
        await judge.remember(3, pending, event)
        db.close()

        with sqlite3.connect(path) as conn:  # both written, by the same transaction
            (kind,) = conn.execute("SELECT kind FROM outbox").fetchone()
            (kept,) = conn.execute(
                "SELECT value FROM kept_state WHERE key = ?", (PENDING_KEY,)
            ).fetchone()
        assert kind == "cross_check_disagreement"
        assert json.loads(kept)["3"]["differ"] == [7]

        db = Database.open(path)  # a restart
        again = FinalityJudge(
            ("p", clients[0]),
            ("w", clients[1]),
            EventSink(db, EventBus(), pool_id="p", outbox_max_rows=100),
            _never,
        )
        await again.restore()
        assert again.pending == {3: pending}
        await again.resolve(2)  # not final yet: nothing asked, still pending
        assert again.pending == {3: pending}
        db.close()
    finally:
        for client in clients:
            await client.close()
