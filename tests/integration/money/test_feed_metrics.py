"""The ledger's gauges after a close that writes several epochs: refreshed once, and right.

The pool totals need one pass over every delegator (the dust), so the feed refreshes them once
per close instead of after every write; the gauges must still show the ledger as it ends up.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from stakepool.ledger.queries import PoolTotals
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import open_ledger
from stakepool.publish.ledger_metrics import LedgerMetrics
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.buses import ledger_bus
from tests.integration.money.moneykit import SCENARIO
from tests.integration.money.test_feed_reorg import DELEGATIONS, POLICY, _chain, _feed


async def test_a_close_that_rewrites_epochs_refreshes_the_gauges_once(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    node = await serve_sim(_chain(SCENARIO))
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=POLICY)
    await store.apply_delegations(DELEGATIONS)
    registry = CollectorRegistry()
    ledger = LedgerService(store, ledger_bus(LedgerMetrics(registry)), events=False)
    reads: list[PoolTotals] = []
    totals = store.pool_totals

    async def counted() -> PoolTotals:
        reads.append(await totals())
        return reads[-1]

    store.pool_totals = counted  # type: ignore[method-assign]
    feed = await _feed(sim_client(node.url, retries=0), ledger)
    for closed in (2, 3):
        await feed.on_epoch_closed(closed)
    # Closes 4 and 5 were not seen (the worker was busy): close 6 catches up.
    reads.clear()
    assert await feed.on_epoch_closed(6) == [3, 4, 5]  # three writes in one close …
    assert len(reads) == 1  # … one pass over the delegators

    final = await totals()
    value = registry.get_sample_value

    def summed(name: str) -> float:
        return sum(value(name, {"status": s}) or 0.0 for s in ("final", "provisional"))

    assert summed("stakepool_pool_rewards_gwei") == final.rewards_gwei.total
    assert summed("stakepool_pool_fees_gwei") == final.fees_gwei.total
    assert value("stakepool_ledger_settled_epoch", {"status": "provisional"}) == 5
    store.db.close()
