"""``RewardsFetcher`` against the simulated beacon node (spec-faithful rewards, Electra rules).

Scenario (minimal preset, 8 slots per epoch, 64 validators, pool = 0..31): 1 offline, 2 votes late
(head lost), 3 votes a wrong target, 4 is attester-slashed (included at slot 36, epoch 4), 5 gets a
2 ETH top-up requested at slot 25 (queued, applied after finality), 6..7 are compounding (0x02),
8 exits at slot 12; slot 17 and the last slot of epoch 5 (47) are empty, slot 26's block is
orphaned. Validators 2, 7 and 13 hold two sync-committee seats in the first period. The sim's own
books (balances, the withdrawals in its blocks, the deposits it applied) are the truth.
"""

from __future__ import annotations

import pytest

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.spec import ChainSpec
from stakepool.execution.client import ExecutionClient
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.rewards.types import EpochRewards
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledDeposit,
    ScheduledExit,
    ScheduledSlashing,
    SimScenario,
    WrongVotes,
)
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.execution.fakerpc import FakeRpc, load

SPE = 8
POOL = range(32)
WINDOWS = range(1, 12)
OFFLINE, LATE, WRONG_TARGET, SLASHED, TOPPED_UP, EXITS = 1, 2, 3, 4, 5, 8
TOP_UP = 2_000_000_000
SCENARIO = SimScenario(
    offline=(Offline((OFFLINE, OFFLINE)),),
    late_votes=(LateVotes((LATE, LATE), delay=2),),
    wrong_votes=(WrongVotes((WRONG_TARGET, WRONG_TARGET), "target"),),
    slashings=(ScheduledSlashing("attester", (SLASHED,), 20, 36),),
    deposits=(ScheduledDeposit(TOPPED_UP, TOP_UP, 3 * SPE + 1),),
    exits=(ScheduledExit(EXITS, 10, 12),),
    compounding=((6, 7),),
    missed_slots=frozenset({17, 5 * SPE + 7}),
    orphaned_slots=frozenset({26}),
)
POOL_FEE_RECIPIENT = "0x388c818ca8b9251b393131c08a736a67ccb19297"


@pytest.fixture(scope="module")
def chain() -> SimChain:
    c = SimChain(
        SimConfig(
            validators=64,
            seed=5,
            genesis_time=1_700_000_000,
            scenario=SCENARIO,
            history_epochs=16,
        )
    )
    c.advance_to(12 * SPE + 2)
    return c


@pytest.fixture
async def client(chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient) -> BeaconClient:
    server = await serve_sim(chain)
    return sim_client(server.url, timeout=10.0)


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.node.genesis()
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


def _sim_truth(chain: SimChain, k: int, v: int) -> int:
    """The sim's own books: ΔB + withdrawals in its canonical blocks − deposits it applied."""
    start = chain.state_at_slot(k * SPE - 1)
    end = chain.state_at_slot(k * SPE + SPE - 1)
    assert start is not None
    assert end is not None
    withdrawn = sum(
        int(w["amount"])
        for slot in range(k * SPE, (k + 1) * SPE)
        for b in chain.blocks_at_slot(slot)
        if b.canonical
        for w in b.payload["withdrawals"]
        if int(w["validator_index"]) == v
    )
    outcome = chain.epoch_outcome(k - 1)
    assert outcome is not None
    applied = sum(d.amount for d in outcome.deposits_applied if d.validator_index == v)
    return int(end.balance[v]) - int(start.balance[v]) + withdrawn - applied


async def _all(fetcher: RewardsFetcher) -> dict[int, EpochRewards]:
    return {k: await fetcher.epoch(k, POOL) for k in WINDOWS}


async def test_settlement_is_the_sims_books_and_the_residual_is_zero(
    chain: SimChain, client: BeaconClient
) -> None:
    fetcher = RewardsFetcher(client, await _spec(client))
    windows = await _all(fetcher)
    for k, w in windows.items():
        assert w.explanation_available, (k, w.explanation_reason)
        assert [v.validator for v in w.validators] == list(POOL)
        for v in w.validators:
            assert v.settlement_gwei == _sim_truth(chain, k, v.validator), (k, v.validator)
            assert v.residual_gwei == 0, (k, v)
        assert w.settlement_gwei == sum(v.settlement_gwei for v in w.validators)

    # The scenario did happen, and the explanation names it.
    assert any(v.withdrawals_gwei > 0 for w in windows.values() for v in w.validators)
    slashed = windows[4].validators[SLASHED]
    assert slashed.explanation is not None
    assert slashed.explanation.slashing_penalty == 32 * 10**9 // 4096
    assert slashed.settlement_gwei < 0
    topped = [w.validators[TOPPED_UP] for w in windows.values()]
    assert sum(v.moves.deposit_requests_gwei for v in topped) == TOP_UP
    assert sum(v.deposits_gwei for v in topped) == TOP_UP  # applied exactly once, neutrally
    assert all(abs(v.settlement_gwei) < 10**8 for v in topped)  # never booked as a reward
    offline = windows[5].validators[OFFLINE]
    assert offline.explanation is not None
    assert offline.explanation.target < 0
    assert offline.missed_gwei is not None
    assert offline.missed_gwei > 0
    late = windows[5].validators[LATE]
    assert late.explanation is not None
    assert late.explanation.head == 0
    perfect = windows[5].validators[0]
    assert perfect.explanation is not None
    assert perfect.missed_gwei == 0
    assert late.missed_gwei == perfect.explanation.head
    # 8 exits: once it no longer has duties nothing is "missed".
    assert windows[11].validators[EXITS].missed_gwei is None
    assert any(
        v.explanation is not None and v.explanation.proposer > 0
        for w in windows.values()
        for v in w.validators
    )


async def test_duplicate_sync_seats_are_paid_per_seat(
    chain: SimChain, client: BeaconClient
) -> None:
    committee = chain.sync_committee(1)
    assert committee is not None
    seats = committee.tolist()
    doubled = [v for v in POOL if seats.count(v) == 2]
    assert doubled  # seed 5: validators 2, 7 and 13
    fetcher = RewardsFetcher(client, await _spec(client))
    w = await fetcher.epoch(3, POOL)
    for v in doubled:
        truth = sum(
            b.sync.per_validator().get(v, 0)
            for slot in range(3 * SPE, 4 * SPE)
            for b in chain.blocks_at_slot(slot)
            if b.canonical
        )
        e = w.validators[v].explanation
        assert e is not None
        assert e.sync == truth != 0


async def test_empty_and_orphaned_slots(chain: SimChain, client: BeaconClient) -> None:
    fetcher = RewardsFetcher(client, await _spec(client))
    w2, w3, w5 = [await fetcher.settle(k, POOL) for k in (2, 3, 5)]
    assert len(w2.block_roots) == SPE - 1  # slot 17 empty
    orphan = next(b for b in chain.blocks_at_slot(26) if not b.canonical)
    assert orphan.root not in w3.block_roots
    assert len(w3.block_roots) == SPE - 1
    assert w5.end_slot_state == 5 * SPE + SPE - 1  # an empty last slot: its state still counts
    assert len(w5.block_roots) == SPE - 1


async def test_without_rewards_routes_settlement_stands_and_explanation_is_unavailable(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    plain = await serve_sim(chain)
    bare = await serve_sim(chain)
    for route in ("getAttestationsRewards", "getBlockRewards", "getSyncCommitteeRewards"):
        bare.faults.set(route, "not_implemented")
    full = RewardsFetcher(sim_client(plain.url), await _spec(sim_client(plain.url)))
    client = sim_client(bare.url)
    lacking = RewardsFetcher(client, await _spec(client))
    for k in (2, 4, 6):
        with_routes = await full.epoch(k, POOL)
        without = await lacking.epoch(k, POOL)
        assert not without.explanation_available
        assert without.explanation_reason is not None
        assert "lacks a rewards endpoint" in without.explanation_reason
        assert [v.settlement_gwei for v in without.validators] == [
            v.settlement_gwei for v in with_routes.validators
        ]
        assert all(
            v.explanation is None and v.residual_gwei is None and v.missed_gwei is None
            for v in without.validators
        )


async def test_settle_now_explain_later(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """The window is settled while the rewards are missing, and explained once they answer."""
    server = await serve_sim(chain)
    server.faults.set("getAttestationsRewards", "unavailable")
    client = sim_client(server.url, retries=0)
    fetcher = RewardsFetcher(client, await _spec(client))
    settled = await fetcher.settle(6, POOL)
    assert not settled.explanation_available
    assert settled.explanation_reason == "not explained yet"
    failed = await fetcher.explain(settled)
    assert not failed.explanation_available
    assert failed.explanation_reason is not None
    assert failed.validators == settled.validators
    server.faults.clear()
    explained = await fetcher.explain(settled)
    assert explained.explanation_available
    assert all(v.residual_gwei == 0 for v in explained.validators)
    assert [v.settlement_gwei for v in explained.validators] == [
        v.settlement_gwei for v in settled.validators
    ]
    # A fetcher that kept nothing re-reads the window and explains it the same way.
    forgetful = RewardsFetcher(client, await _spec(client), keep_windows=0, chunk=7)
    assert (await forgetful.explain(settled)).validators == explained.validators


async def test_el_rewards_are_unknown_without_an_execution_node(client: BeaconClient) -> None:
    fetcher = RewardsFetcher(client, await _spec(client))
    w = await fetcher.settle(4, POOL)
    assert w.proposals
    assert all(p.reward is None and p.reason == "no execution.url configured" for p in w.proposals)
    assert w.el_wei is None


async def test_el_rewards_of_the_pools_proposals(chain: SimChain, client: BeaconClient) -> None:
    rpc = FakeRpc()
    await rpc.start()
    try:
        fetcher = RewardsFetcher(client, await _spec(client))
        proposals = (await fetcher.settle(4, POOL)).proposals
        hashes = [p.block_hash for p in proposals]
        assert all(hashes)
        # Every pool block of the window is served as the recorded MEV-boost block, except the
        # first, served as the locally built one (our address is the coinbase).
        rpc.add(load("block_local"), load("receipts_local"), block_hash=hashes[0])
        for h in hashes[1:]:
            rpc.add(load("block_mev"), load("receipts_mev"), block_hash=h)
        async with ExecutionClient(rpc.url) as el:
            with_el = RewardsFetcher(
                client, await _spec(client), execution=el, fee_recipients=[POOL_FEE_RECIPIENT]
            )
            w = await with_el.settle(4, POOL)
        kinds = [p.reward.kind if p.reward else None for p in w.proposals]
        assert kinds == ["priority_fees"] + ["mev_payment"] * (len(hashes) - 1)
        assert w.el_wei == 201_337 * 3 * 10**9 + 56 * 10**15 * (len(hashes) - 1)
        assert [p.proposer for p in w.proposals] == [
            b.proposer_index
            for slot in range(4 * SPE, 5 * SPE)
            for b in chain.blocks_at_slot(slot)
            if b.canonical and b.proposer_index in POOL
        ]
        rpc.http_status = 503
        async with ExecutionClient(rpc.url) as el:
            broken = RewardsFetcher(client, await _spec(client), execution=el)
            failed = await broken.settle(4, POOL)
        assert failed.el_wei is None
        assert all(p.reason and "HTTP 503" in p.reason for p in failed.proposals)
    finally:
        await rpc.stop()


async def test_old_windows_are_final_recent_ones_provisional(
    chain: SimChain, client: BeaconClient
) -> None:
    fetcher = RewardsFetcher(client, await _spec(client))
    finalized_epoch = chain.head.finalized.epoch
    assert finalized_epoch >= 4
    old = await fetcher.settle(2, POOL)
    recent = await fetcher.settle(11, POOL)
    assert old.finalized is True
    assert recent.finalized is False
    assert not old.optimistic
    assert not recent.optimistic


async def test_tracker_explains_late_windows_and_gives_up_eventually(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    server = await serve_sim(chain)
    client = sim_client(server.url, retries=0)
    tracker = RewardsTracker(RewardsFetcher(client, await _spec(client)), lambda: POOL, patience=3)
    server.faults.set("getAttestationsRewards", "unavailable")
    (w4,) = await tracker.close(4)
    (w5,) = await tracker.close(5)
    assert not w4.explanation_available
    assert not w5.explanation_available
    assert sorted(tracker.waiting) == [4, 5]
    server.faults.clear()
    w6, late4, late5 = await tracker.close(6)
    assert [w.epoch for w in (w6, late4, late5)] == [6, 4, 5]
    assert all(w.explanation_available for w in (w6, late4, late5))
    assert [v.settlement_gwei for v in late4.validators] == [
        v.settlement_gwei for v in w4.validators
    ]
    assert tracker.waiting == {}

    server.faults.set("getAttestationsRewards", "unavailable")
    await tracker.close(7)
    assert list(tracker.waiting) == [7]
    await tracker.close(8)
    _, given_up = await tracker.close(10)
    assert given_up.epoch == 7
    assert given_up.explanation_reason is not None
    assert given_up.explanation_reason.startswith("gave up after 3 epochs")
    assert sorted(tracker.waiting) == [8, 10]


async def test_bad_answers_are_clear_errors_and_lose_nothing(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    server = await serve_sim(chain)
    client = sim_client(server.url, retries=0)
    fetcher = RewardsFetcher(client, await _spec(client))
    good = await fetcher.epoch(5, POOL)

    server.faults.set("getBlockRewards", "bad_integer")
    half = await fetcher.epoch(5, POOL)
    assert half.validators != good.validators  # no explanation …
    assert [v.settlement_gwei for v in half.validators] == [
        v.settlement_gwei for v in good.validators
    ]  # … but the same money
    assert half.explanation_reason is not None
    assert "block_rewards" in half.explanation_reason
    assert "12x" in half.explanation_reason

    server.faults.clear()
    server.faults.set("postStateValidatorBalances", "bad_integer")
    with pytest.raises(BeaconError, match=r"validator_balances.*12x"):
        await fetcher.settle(5, POOL)
    server.faults.clear()
    assert await fetcher.epoch(5, POOL) == good


async def test_a_node_without_rewards_endpoints_is_not_asked_again(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    # Stock Lodestar v1.5.1 has no rewards routes: retrying the explanation would only read the
    # window's states again later, when such a node has pruned them.
    server = await serve_sim(chain)
    client = sim_client(server.url, retries=0)
    tracker = RewardsTracker(RewardsFetcher(client, await _spec(client)), lambda: POOL, patience=3)
    server.faults.set("getAttestationsRewards", "not_found")  # "Route not found"
    (w4,) = await tracker.close(4)
    assert not w4.explanation_available
    assert w4.explanation_never
    assert w4.explanation_reason is not None
    assert "lacks a rewards endpoint" in w4.explanation_reason
    assert tracker.waiting == {}
    assert [w.epoch for w in await tracker.close(5)] == [5]
    assert tracker.waiting == {}


async def test_only_windows_waiting_for_their_explanation_stay_in_memory(
    chain: SimChain, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    """An explained window's start records are not held (a big pool's are tens of MB); one still
    waiting for its explanation is, so that asking again costs no read of its states."""
    server = await serve_sim(chain)
    client = sim_client(server.url, retries=0)
    fetcher = RewardsFetcher(client, await _spec(client))
    assert (await fetcher.epoch(4, POOL)).explanation_available
    assert len(fetcher.windows) == 0
    server.faults.set("getAttestationsRewards", "unavailable")
    waiting = await fetcher.epoch(5, POOL)
    assert not waiting.explanation_available
    assert len(fetcher.windows) == 1
    server.faults.clear()
    assert (await fetcher.explain(waiting)).explanation_available
    assert len(fetcher.windows) == 0
