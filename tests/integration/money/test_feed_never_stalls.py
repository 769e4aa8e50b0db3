"""The ledger never stalls for good (issue 12, item 3): a transient failure is retried within the
epoch, a window read at its close is kept durably and settles after the node pruned its states
(and after a restart), and a fresh ledger whose first attempts fail starts where it should."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.ledger.feed import LedgerFeed
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.conftest import MakeSimClient
from tests.integration.money.moneykit import POOL, SPE, sim_truth
from tests.integration.simkit import Handler, InterceptingSimServer

FAST = (0.01, 0.02, 0.04)


class FlakySim(InterceptingSimServer):
    """Answers the next ``fail`` balances requests with a 503 (a node restarting, a proxy)."""

    def __init__(self, chain: SimChain) -> None:
        super().__init__(chain)
        self.fail = 0
        self.failed = 0

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.fail > 0 and request.path.endswith("/validator_balances"):
            self.fail -= 1
            self.failed += 1
            return web.json_response({"code": 503, "message": "syncing"}, status=503)
        return await handler(request)


@pytest.fixture
async def flaky() -> AsyncIterator[FlakySim]:
    chain = SimChain(SimConfig(validators=64, seed=5, genesis_time=1_700_000_000))
    chain.advance_to(3 * SPE + 1)
    async with FlakySim(chain) as server:
        yield server


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.node.genesis()
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


async def _feed(client: BeaconClient, store: SqliteLedgerStore) -> LedgerFeed:
    fetcher = RewardsFetcher(client, await _spec(client))
    return LedgerFeed(
        RewardsTracker(fetcher, lambda: POOL),
        LedgerService(store, events=False),
        retry_delays=FAST,
    )


def _store(tmp_path: Path) -> SqliteLedgerStore:
    return open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=LedgerPolicy())


async def test_a_transient_failure_is_retried_within_the_epoch(
    tmp_path: Path, flaky: FlakySim, sim_client: MakeSimClient
) -> None:
    client = sim_client(flaky.url, retries=0)
    feed = await _feed(client, _store(tmp_path))
    flaky.fail = 2  # two 503s in a row, then the node answers again
    with structlog.testing.capture_logs() as logs:
        assert await feed.on_epoch_closed(3) == [2]  # settled at this close, no epoch of lag
    assert flaky.failed == 2
    assert not [e for e in logs if e["event"] == "ledger_window_unavailable"]
    assert [e["attempt"] for e in logs if e["event"] == "ledger_window_retry"] == [1, 2]


async def test_a_fresh_ledger_whose_first_attempts_fail_starts_where_it_should(
    tmp_path: Path, flaky: FlakySim, sim_client: MakeSimClient
) -> None:
    client = sim_client(flaky.url, retries=0)
    store = _store(tmp_path)
    feed = await _feed(client, store)
    flaky.fail = 1_000  # the node fails every balances request during this close
    with structlog.testing.capture_logs() as logs:
        assert await feed.on_epoch_closed(3) == []
    blocked = [e for e in logs if e["event"] == "ledger_window_unavailable"]
    assert [e["epoch"] for e in blocked] == [2]  # the log names epoch 2 ...
    flaky.fail = 0
    flaky.chain.advance_to(5 * SPE + 1)
    # A restart in between: the origin is kept in the database with the ledger.
    restarted = await _feed(client, _store(tmp_path))
    assert await restarted.on_epoch_closed(4) == [2, 3]  # ... and epoch 2 is where it starts
    epochs = await restarted.ledger.store.pool_epochs(EpochRange(0, 10))
    assert [e.epoch for e in epochs] == [2, 3]


async def test_a_window_read_at_its_close_settles_after_the_node_pruned_it_and_a_restart(
    tmp_path: Path, flaky: FlakySim, sim_client: MakeSimClient
) -> None:
    client = sim_client(flaky.url, retries=0)
    chain = flaky.chain
    chain.advance_to(4 * SPE + 1)  # epoch 3 has just closed
    first = await _feed(client, _store(tmp_path))
    assert await first.on_epoch_closed(3) == [2]  # and window 3 is read ahead, kept
    truth = {v: sim_truth(chain, 3, v) for v in POOL}
    # The daemon stops; meanwhile the chain moves on and the node prunes the states of epoch 3.
    chain.advance_to(9 * SPE + 1)
    flaky.faults.state_history_slots = 2 * SPE
    restarted = await _feed(client, _store(tmp_path))
    with structlog.testing.capture_logs() as logs:
        written = await restarted.on_epoch_closed(9)
    assert written[:1] == [3]  # settled from what was kept, without the pruned states
    for v in POOL:
        (row,) = await restarted.ledger.store.validator_epochs(v, EpochRange(3, 3))
        assert row.reward_gwei == truth[v]
    assert not [e for e in logs if e["event"] == "ledger_window_unavailable" and e["epoch"] == 3]
