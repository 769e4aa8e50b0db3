"""The rewards endpoints answer after the balances: the epochs settle unexplained, become final,
and their explanation arrives later. It is stored on the final rows; nothing calls it a finalized
reorg (before the fix: ``ledger_settle_refused`` "… halt payouts and investigate", explanation
lost)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import structlog

from stakepool.ledger.service import LedgerService
from stakepool.ledger.store import detail_sql
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.moneykit import SCENARIO
from tests.integration.money.test_feed_reorg import DELEGATIONS, POLICY, _chain, _feed, _ledger


async def test_a_late_explanation_of_final_epochs_is_stored_without_alarm(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    node = await serve_sim(_chain(SCENARIO))
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=POLICY)
    await store.apply_delegations(DELEGATIONS)
    ledger = LedgerService(store, events=False)
    feed = await _feed(sim_client(node.url, retries=0), ledger)
    await feed.on_epoch_closed(2)  # epoch 1 settled, explained
    node.faults.set("getAttestationsRewards", "unavailable")  # late from here on
    with structlog.testing.capture_logs() as logs:
        for closed in (3, 4):
            await feed.on_epoch_closed(closed)  # epochs 2, 3 settled unexplained
        await feed.on_finalized(5)  # … and final
        node.faults.clear()
        await feed.on_epoch_closed(5)  # their explanation arrives
        await feed.on_epoch_closed(6)

    assert [e for e in logs if e["event"] == "ledger_settle_refused"] == []

    def explained(epoch: int) -> list[bool]:
        return store.db.read_sync(
            lambda c: [
                r.components_gwei is not None
                for r in detail_sql.epoch_detail(c, epoch).rows()  # type: ignore[union-attr]
            ]
        )

    def status(epoch: int) -> str:
        return str(
            store.db.read_sync(
                lambda c: c.execute(
                    "SELECT status FROM ledger_epochs WHERE epoch = ?", (epoch,)
                ).fetchone()[0]
            )
        )

    assert (status(2), status(3)) == ("final", "final")
    for epoch in (1, 2, 3, 4, 5):
        rows = explained(epoch)
        assert rows, epoch
        assert all(rows), epoch  # the late explanation was stored, final rows included
    store.db.close()


async def test_an_explanation_that_failed_at_its_read_is_asked_again_before_settling(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """One malformed rewards answer at the read no longer leaves the row to be settled
    unexplained: the close asks again, so the row holds the explanation and the input digest an
    undisturbed run writes, even if it is final before the next close (then it would keep the
    unexplained digest for good)."""
    node = await serve_sim(_chain(SCENARIO))
    ref_store, ref_ledger = await _ledger(tmp_path / "ref.sqlite")
    store, ledger = await _ledger(tmp_path / "dut.sqlite")
    reference = await _feed(sim_client(node.url, retries=0), ref_ledger)
    feed = await _feed(sim_client(node.url, retries=0), ledger)
    for closed in (2, 3, 4):
        await reference.on_epoch_closed(closed)
    await feed.on_epoch_closed(2)

    asked_again: list[float] = []

    async def the_node_recovers(delay: float) -> None:
        asked_again.append(delay)
        node.faults.clear()

    feed.windows.sleep = the_node_recovers
    node.faults.set("getAttestationsRewards", "malformed_json")  # window 3's read
    await feed.on_epoch_closed(3)
    await feed.on_epoch_closed(4)  # window 3 settled
    await feed.on_finalized(4)

    def row(s: SqliteLedgerStore, epoch: int) -> tuple[str, str, list[bool]]:
        def read(c: sqlite3.Connection) -> tuple[str, str, list[bool]]:
            status, digest = c.execute(
                "SELECT status, input_digest FROM ledger_epochs WHERE epoch = ?", (epoch,)
            ).fetchone()
            detail = detail_sql.epoch_detail(c, epoch)
            assert detail is not None
            return status, digest, [r.components_gwei is not None for r in detail.rows()]

        return s.db.read_sync(read)

    status, digest, explained = row(store, 3)
    assert status == "final"
    assert explained
    assert all(explained)
    assert digest == row(ref_store, 3)[1]
    assert len(asked_again) == 1  # one retry within the close sufficed
