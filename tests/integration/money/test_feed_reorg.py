"""A deep reorg under settled, not yet final epochs: the feed fetches the windows again from the
first changed epoch, the ledger reverses what changed (audit rows kept) and ends identical to a
fresh ledger fed only the new canonical chain.

Two simulated chains share their history up to epoch 5; on the second one the proposer of a slot
in epoch 5 never published (the fork the network settled on). The feed first follows a node on
the first chain (settling windows 1..7), then that node goes away and the client fails over to a
node on the second chain — the feed is told of the reorg as ``chain_reorg`` would tell it.
"""

from __future__ import annotations

from pathlib import Path

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.feed import LedgerFeed
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import SimScenario
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.moneykit import POOL, SCENARIO, SPE, dump_ledger

FORK_SLOT = 5 * SPE + 3
POLICY = LedgerPolicy(fee_bps=700)
FORKED = SimScenario(
    slashings=SCENARIO.slashings,
    deposits=SCENARIO.deposits,
    exits=SCENARIO.exits,
    missed_slots=SCENARIO.missed_slots | {FORK_SLOT},
    orphaned_slots=SCENARIO.orphaned_slots,
)
"""The same history, but the proposer of a slot in epoch 5 never published: the other fork."""
DELEGATIONS = DelegationSet(
    (Delegation("alice", 32 * 10**9, 0), Delegation("bob", 5 * 10**9, 0, 6)), "test"
)


def _chain(scenario: SimScenario) -> SimChain:
    chain = SimChain(
        SimConfig(
            validators=64, seed=11, genesis_time=1_700_000_000, scenario=scenario, history_epochs=16
        )
    )
    chain.advance_to(8 * SPE + 1)
    return chain


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.node.genesis()
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


async def _ledger(path: Path) -> tuple[SqliteLedgerStore, LedgerService]:
    store = open_ledger(str(path), pool_id="p", policy=POLICY)
    await store.apply_delegations(DELEGATIONS)
    return store, LedgerService(store, events=False)


async def _feed(client: BeaconClient, ledger: LedgerService) -> LedgerFeed:
    return LedgerFeed(
        RewardsTracker(RewardsFetcher(client, await _spec(client)), lambda: POOL), ledger
    )


async def test_a_deep_reorg_reverses_and_recomputes_like_a_fresh_run(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    old = _chain(SCENARIO)
    new = _chain(FORKED)
    assert old.block_root_at_slot(FORK_SLOT - 1) == new.block_root_at_slot(FORK_SLOT - 1)
    assert old.block_root_at_slot(FORK_SLOT) != new.block_root_at_slot(FORK_SLOT)
    old_node, new_node = await serve_sim(old), await serve_sim(new)
    client = sim_client(old_node.url, new_node.url)

    store, ledger = await _ledger(tmp_path / "followed.sqlite")
    feed = await _feed(client, ledger)
    for closed in range(2, 9):
        await feed.on_epoch_closed(closed)
    assert (await store.status()).last_settled_epoch == 7
    before = dump_ledger(tmp_path / "followed.sqlite")

    await old_node.stop()  # the node on the old fork is gone: the client turns to the other
    feed.on_reorg(FORK_SLOT // SPE)
    written: list[int] = []
    for _ in range(5):  # the first attempts may meet the failover; bounded
        written = await feed.on_epoch_closed(8)
        if written:
            break
    assert written == [5, 6, 7]
    after = dump_ledger(tmp_path / "followed.sqlite")
    reversed_epochs = sorted(int(str(r[0])) for r in after["ledger_epoch_reversals"])
    assert reversed_epochs == [5, 6, 7]  # every epoch from the fork on, kept for audit
    assert after["ledger_epochs"][:4] == before["ledger_epochs"][:4]  # 1..4 untouched
    assert after["ledger_epochs"][4:] != before["ledger_epochs"][4:]

    fresh_store, fresh_ledger = await _ledger(tmp_path / "fresh.sqlite")
    fresh = await _feed(sim_client(new_node.url), fresh_ledger)
    for closed in range(2, 9):
        await fresh.on_epoch_closed(closed)
    expected = dump_ledger(tmp_path / "fresh.sqlite")
    for table in ("ledger_epochs", "validator_epochs", "validator_totals", "delegator_weights"):
        assert after[table] == expected[table], table
    store.db.close()
    fresh_store.db.close()


async def test_a_late_explanation_is_stored_in_place_without_rewriting(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """Window 4 is fetched and settled while the node cannot explain it; once it can, epoch 4's
    row gains its components in place: no money moved, so nothing is reversed or settled again —
    ending equal to a ledger that had every explanation at once."""
    node = await serve_sim(_chain(SCENARIO))
    client = sim_client(node.url, retries=0)
    store, ledger = await _ledger(tmp_path / "late.sqlite")
    feed = await _feed(client, ledger)
    for closed in (2, 3):
        assert await feed.on_epoch_closed(closed) == [closed - 1]
    node.faults.set("getAttestationsRewards", "unavailable")
    assert await feed.on_epoch_closed(4) == [3]  # window 4 is fetched now, unexplained
    node.faults.clear()
    assert await feed.on_epoch_closed(5) == [4]  # settled unexplained; explained when 5 is fetched
    # Window 5 settles; 4's explanation is stored on its rows (not a new settlement).
    assert await feed.on_epoch_closed(6) == [5]
    assert await feed.on_epoch_closed(7) == [6]
    reversed_epochs = dump_ledger(tmp_path / "late.sqlite")["ledger_epoch_reversals"]
    assert reversed_epochs == []
    rows = await store.validator_epochs(POOL[0], EpochRange(1, 6))
    assert rows is not None
    assert all(r.components_gwei is not None for r in rows)  # 4 explained late
    assert all(r.residual_gwei == 0 for r in rows)

    fresh_store, fresh_ledger = await _ledger(tmp_path / "fresh.sqlite")
    fresh = await _feed(sim_client(node.url), fresh_ledger)
    for closed in range(2, 8):
        await fresh.on_epoch_closed(closed)
    late, expected = dump_ledger(tmp_path / "late.sqlite"), dump_ledger(tmp_path / "fresh.sqlite")
    for table in ("ledger_epochs", "validator_epochs", "validator_totals"):
        assert late[table] == expected[table], table
    store.db.close()
    fresh_store.db.close()


async def test_a_correction_settles_the_later_epochs_again_from_what_the_feed_kept(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """A witness shows epoch 5 settled from figures another node disagrees with: the ledger
    reverses 5, 6 and 7, and the feed settles 6 and 7 again from the inputs it kept (packed while
    they wait for finality), so their validator rows come back exactly as they were."""
    old_node = await serve_sim(_chain(SCENARIO))
    new = _chain(FORKED)
    new_client = sim_client((await serve_sim(new)).url)
    store, ledger = await _ledger(tmp_path / "corrected.sqlite")
    feed = await _feed(sim_client(old_node.url), ledger)
    for closed in range(2, 9):
        await feed.on_epoch_closed(closed)
    before = dump_ledger(tmp_path / "corrected.sqlite")

    witness = RewardsFetcher(new_client, await _spec(new_client))
    written = await feed.correct(await witness.epoch(5, POOL))

    assert written == [5, 6, 7]
    after = dump_ledger(tmp_path / "corrected.sqlite")
    assert sorted(int(str(r[0])) for r in after["ledger_epoch_reversals"]) == [5, 6, 7]
    assert after["ledger_epochs"][4] != before["ledger_epochs"][4]  # 5: the witness's figures
    for epoch in (6, 7):
        again = [r for r in after["validator_epochs"] if r[0] == epoch]
        assert again == [r for r in before["validator_epochs"] if r[0] == epoch]
        assert again
    store.db.close()
