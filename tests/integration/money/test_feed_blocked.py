"""A ledger that resumes at a window the node no longer serves (a restart after a long stop) is
blocked visibly: one attempt per closed epoch, a warning naming the epoch each time, the lag metric
growing; nothing is skipped."""

from __future__ import annotations

from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.ledger.feed import LedgerFeed
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.service import LedgerService
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.sqlite_ledger import open_ledger
from stakepool.publish.ledger_metrics import LedgerMetrics
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.buses import ledger_bus
from tests.integration.money.moneykit import POOL, SPE

HISTORY = 4


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.node.genesis()
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


async def test_a_window_older_than_the_node_serves_blocks_settlement_loudly(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = SimChain(
        SimConfig(validators=64, seed=5, genesis_time=1_700_000_000, history_epochs=HISTORY)
    )
    chain.advance_to(20 * SPE + 1)
    server = await serve_sim(chain)
    client = sim_client(server.url, timeout=5.0)
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    registry = CollectorRegistry()
    ledger = LedgerService(store, ledger_bus(LedgerMetrics(registry)), events=False)
    # The ledger settled epoch 1 before a long stop: the node now keeps only the last epochs.
    await store.settle(EpochSettlementInput(1, 0, None))
    fetcher = RewardsFetcher(client, await _spec(client))
    feed = LedgerFeed(RewardsTracker(fetcher, lambda: POOL), ledger)

    with structlog.testing.capture_logs() as logs:
        for closed in (20, 21):
            assert await feed.on_epoch_closed(closed) == []
            if closed == 20:
                chain.advance_to(21 * SPE + 1)
    unavailable = [e for e in logs if e["event"] == "ledger_window_unavailable"]
    assert [(e["epoch"], e["log_level"], e["behind_epochs"]) for e in unavailable] == [
        (2, "warning", 18),
        (2, "warning", 19),
    ]  # one attempt per closed epoch, at the ledger's next epoch: nothing skipped
    assert "stakepool_ledger_lag_epochs" in unavailable[0]["hint"]
    assert registry.get_sample_value("stakepool_ledger_lag_epochs") == 20  # 21 closed, 1 settled
    assert (await store.status()).last_settled_epoch == 1


async def test_in_steady_state_the_lag_is_one(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000))
    chain.advance_to(4 * SPE + 1)
    server = await serve_sim(chain)
    client = sim_client(server.url, timeout=5.0)
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())
    registry = CollectorRegistry()
    feed = LedgerFeed(
        RewardsTracker(RewardsFetcher(client, await _spec(client)), lambda: POOL),
        LedgerService(store, ledger_bus(LedgerMetrics(registry)), events=False),
    )
    assert await feed.on_epoch_closed(3) == [2]
    assert registry.get_sample_value("stakepool_ledger_lag_epochs") == 1
