"""The ledger does not settle an epoch whose duty verdicts the monitor still owes (it failed them
at their close and tries again at the next ones): before the fix, a stall during one close left
that epoch's rows with ``attestation_included`` NULL for good, unlike an undisturbed run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.ledger.store import detail_sql
from stakepool.monitor.digest import AttestationDigest, EpochDuties
from stakepool.monitor.summary import AttestationSummary
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.moneykit import POOL, SCENARIO
from tests.integration.money.test_feed_reorg import _chain, _feed, _ledger


async def test_an_epoch_waits_for_the_verdicts_owed_and_is_settled_with_them(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    node = await serve_sim(_chain(SCENARIO))
    store, ledger = await _ledger(tmp_path / "l.sqlite")
    feed = await _feed(sim_client(node.url, retries=0), ledger)

    # Close 2 could not judge the attestations of epoch 1: the monitor retries them at close 3.
    feed.duties.record(EpochDuties(Epoch(2), failed=("attestations",), pending=(Epoch(1),)))
    await feed.on_epoch_closed(2)
    assert (await store.status()).last_settled_epoch is None  # window 1 waits

    judged = AttestationDigest(
        Epoch(1),
        AttestationSummary(duties=len(POOL), included=len(POOL)),
        (),
        (),
        (),
        tuple(ValidatorIndex(v) for v in POOL),
    )
    feed.duties.record(EpochDuties(Epoch(3), earlier_attestations=(judged,)))
    await feed.on_epoch_closed(3)
    assert (await store.status()).last_settled_epoch == 2  # the fresh ledger kept its origin

    def included(c: sqlite3.Connection) -> list[bool | None]:
        detail = detail_sql.epoch_detail(c, 1)
        assert detail is not None
        return [r.attestation_included for r in detail.rows()]

    assert store.db.read_sync(included) == [True] * len(POOL)
