"""Every query of ``BeaconClient``'s parts once against the simulator, on a chain where something
happens: offline validators, an included and two pending slashings, a pending exit, a top-up
deposit, a missed and an orphaned slot. The answers are checked against the chain itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from stakepool import __version__
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import Committee, Readiness, ValidatorStatus
from stakepool.chain.bitfields import attesting_indices
from stakepool.chain.spec import ChainSpec
from stakepool.sim import ids
from stakepool.sim.chain import SimChain
from stakepool.sim.scenario import (
    Offline,
    ScheduledDeposit,
    ScheduledExit,
    ScheduledSlashing,
    SimScenario,
)
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import FIXED_GENESIS, SPE, CountingSimServer, stepped_chain

VALIDATORS = 64
OFFLINE = set(range(8))
HEAD = 5 * SPE + 5  # slot 45, epoch 5
EPOCH = 5
MISSED = 42
ORPHANED = 35
NEVER = 10**6
"""An inclusion slot the chain never reaches: the operation stays in the pool."""
SCENARIO = SimScenario(
    offline=(Offline((0, 7)),),
    missed_slots=frozenset({MISSED}),
    orphaned_slots=frozenset({ORPHANED}),
    slashings=(
        ScheduledSlashing("attester", (40, 41), announce_slot=9, include_slot=20),
        ScheduledSlashing("proposer", (42,), announce_slot=30, include_slot=NEVER),
        ScheduledSlashing("attester", (43,), announce_slot=31, include_slot=NEVER),
    ),
    exits=(ScheduledExit(50, announce_slot=35, include_slot=NEVER),),
    deposits=(ScheduledDeposit(20, 3_000_000_000, 43),),
)


@dataclass
class Busy:
    chain: SimChain
    node: CountingSimServer
    client: BeaconClient
    spec: ChainSpec


@pytest.fixture
async def busy(serve_sim: ServeSim, sim_client: MakeSimClient) -> AsyncIterator[Busy]:
    chain = stepped_chain(HEAD, validators=VALIDATORS, scenario=SCENARIO)
    node = await serve_sim(chain)
    client = sim_client(node.url)
    genesis = await client.check_genesis()
    spec = ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )
    yield Busy(chain, node, client, spec)
    # Every primary route exists on the sim: no fallback was needed by any test.
    assert client.health()[0].unsupported == frozenset()


def by_slot(committees: tuple[Committee, ...]) -> dict[int, dict[int, tuple[int, ...]]]:
    out: dict[int, dict[int, tuple[int, ...]]] = {}
    for c in committees:
        out.setdefault(c.slot, {})[c.index] = c.validators
    return out


async def test_node_and_spec(busy: Busy) -> None:
    client, chain, spec = busy.client, busy.chain, busy.spec
    genesis = await client.node.genesis()
    assert genesis.genesis_time == FIXED_GENESIS
    assert genesis.genesis_validators_root == chain.genesis_validators_root
    assert genesis.genesis_fork_version == chain.genesis_fork_version
    assert (spec.slots_per_epoch, spec.preset_base, spec.slot_duration_ms) == (8, "minimal", 6000)
    assert (spec.max_committees_per_slot, spec.sync_committee_size) == (4, 32)
    assert spec.fork_at(EPOCH) == "electra"
    assert spec.clock().epoch_of(HEAD) == EPOCH
    syncing = await client.node.syncing()
    assert (syncing.head_slot, syncing.sync_distance, syncing.is_syncing) == (HEAD, 0, False)
    version = await client.node.version()
    assert version.version.startswith("StakepoolSim/")
    assert version.release == tuple(int(x) for x in __version__.split("."))
    assert await client.node.health() is Readiness.READY


async def test_state_queries(busy: Busy) -> None:
    client, chain = busy.client, busy.chain
    found = await client.state.validators("head", [3, ids.pubkey(40), 42])
    assert [v.index for v in found.data] == [3, 40, 42]
    assert all(v.validator.pubkey == ids.pubkey(v.index) for v in found.data)
    status = {v.index: v.status for v in found.data}
    assert status == {
        3: ValidatorStatus.ACTIVE_ONGOING,
        40: ValidatorStatus.ACTIVE_SLASHED,  # the included attester slashing
        42: ValidatorStatus.ACTIVE_ONGOING,  # its proposer slashing is only in the pool
    }
    assert found.data[1].validator.slashed
    assert found.data[1].validator.exit_epoch != busy.spec.far_future_epoch
    slashed = await client.state.validators("head", range(VALIDATORS), ["active_slashed"])
    assert [v.index for v in slashed.data] == [40, 41]

    everyone = list(range(VALIDATORS))
    now: dict[int, int] = {
        b.index: b.balance for b in (await client.state.balances("head", everyone)).data
    }
    then: dict[int, int] = {
        b.index: b.balance for b in (await client.state.balances("genesis", everyone)).data
    }
    assert now == {v: int(chain.head.balance[v]) for v in everyone}
    genesis = chain.state("genesis")
    assert genesis is not None
    assert then == {v: int(genesis.balance[v]) for v in everyone}
    # The sweep withdrew everyone's excess over 32 ETH; only the offline fell below it.
    assert all(now[v] < min(then[v], 32 * 10**9) for v in OFFLINE)
    assert all(now[v] >= 32 * 10**9 for v in range(8, 40))

    finality = (await client.state.finality_checkpoints()).data
    assert finality.finalized.epoch == chain.head.finalized.epoch >= 2
    assert finality.finalized.root == chain.head.finalized.root
    assert finality.current_justified.epoch == chain.head.current_justified.epoch

    committees = (await client.state.committees("head", epoch=EPOCH - 1)).data
    # 64 validators, 8 slots, TARGET_COMMITTEE_SIZE 4: two committees per slot.
    per_slot = by_slot(committees)
    assert sorted(per_slot) == list(range((EPOCH - 1) * SPE, EPOCH * SPE))
    assert all(sorted(seats) == [0, 1] for seats in per_slot.values())
    members = sorted(v for c in committees for v in c.validators)
    assert members == everyone  # each active validator sits in exactly one committee per epoch
    one = await client.state.committees("head", epoch=EPOCH, slot=HEAD, index=1)
    assert [(c.slot, c.index) for c in one.data] == [(HEAD, 1)]

    sync = (await client.state.sync_committee("head")).data
    assert len(sync.validators) == busy.spec.sync_committee_size
    assert [v for agg in sync.validator_aggregates for v in agg] == list(sync.validators)
    assert list(sync.validators) == chain.head.current_sync_committee.tolist()

    (deposit,) = (await client.state.pending_deposits()).data
    assert (deposit.pubkey, deposit.amount) == (ids.pubkey(20), 3_000_000_000)


async def test_blocks_headers_and_attestations(busy: Busy) -> None:
    client, spec = busy.client, busy.spec
    proposers = (await client.duties.proposer(EPOCH)).data
    duties: dict[int, int] = {d.slot: d.validator_index for d in proposers}
    assert sorted(duties) == list(range(EPOCH * SPE, (EPOCH + 1) * SPE))
    empty: set[int] = set()
    for slot in range(EPOCH * SPE, HEAD + 1):
        header = await client.blocks.header(slot)
        if slot == MISSED or duties[slot] in OFFLINE:
            assert header is None, f"slot {slot} should be empty"
            assert (await client.blocks.headers_at_slot(slot)).data == ()
            empty.add(slot)
            continue
        assert header is not None
        assert header.data.canonical
        assert header.data.proposer_index == duties[slot]
        (same,) = (await client.blocks.headers_at_slot(slot)).data
        assert same.root == header.data.root
    assert MISSED in empty
    assert any(duties[slot] in OFFLINE for slot in empty), "no offline proposer in the epoch"

    # The orphaned block is known at its slot but is not canonical there.
    assert await client.blocks.header(ORPHANED) is None
    (orphan,) = (await client.blocks.headers_at_slot(ORPHANED)).data
    assert not orphan.canonical

    # The block after the missed slot carries the votes of both slots before it.
    slot = MISSED + 1
    block = await client.blocks.block(slot)
    assert block is not None
    assert block.version == "electra"
    attestations = block.data.message.body.attestations
    assert sorted({a.data.slot for a in attestations}) == [MISSED - 1, MISSED]
    committees = by_slot((await client.state.committees("head", epoch=EPOCH)).data)
    voted: dict[int, set[int]] = {}
    for attestation in attestations:
        assert attestation.committee_bits is not None
        voted.setdefault(attestation.data.slot, set()).update(
            attesting_indices(
                attestation.aggregation_bits,
                attestation.committee_bits,
                committees[attestation.data.slot],
                spec.max_committees_per_slot,
            )
        )
    for vote_slot, attesters in voted.items():
        seated = {v for members in committees[vote_slot].values() for v in members}
        assert attesters == seated - OFFLINE  # everyone online voted; no offline validator did
        assert seated & OFFLINE, "the scenario should seat an offline validator here"

    via_route = await client.blocks.attestations(slot)
    assert via_route is not None
    assert via_route.data == attestations

    blinded = await client.blocks.blinded_block(slot)
    assert blinded is not None
    full, thin = block.data.message, blinded.data.message
    assert (thin.slot, thin.proposer_index, thin.state_root) == (
        full.slot,
        full.proposer_index,
        full.state_root,
    )
    assert full.body.payload is not None
    assert thin.body.payload is not None
    assert thin.body.payload.block_hash == full.body.payload.block_hash
    assert full.body.payload.withdrawals is not None
    assert thin.body.payload.withdrawals is None
    assert thin.body.payload.withdrawals_root is not None


async def test_duties_and_liveness(busy: Busy) -> None:
    client = busy.client
    everyone = list(range(VALIDATORS))
    committees = by_slot((await client.state.committees("head", epoch=EPOCH)).data)
    duties = (await client.duties.attester(EPOCH, everyone)).data
    assert sorted(d.validator_index for d in duties) == everyone
    for duty in duties:
        members = committees[duty.slot][duty.committee_index]
        assert members[duty.validator_committee_index] == duty.validator_index
        assert duty.committee_length == len(members)
        assert duty.committees_at_slot == len(committees[duty.slot])
        assert duty.pubkey == ids.pubkey(duty.validator_index)

    seats = (await client.state.sync_committee("head")).data.validators
    sync = (await client.duties.sync(EPOCH, everyone)).data
    assert {d.validator_index for d in sync} == set(seats)
    for sync_duty in sync:
        positions = [i for i, v in enumerate(seats) if v == sync_duty.validator_index]
        assert list(sync_duty.validator_sync_committee_indices) == positions

    live = (await client.duties.liveness(EPOCH - 1, everyone)).data
    assert {x.index for x in live if not x.is_live} == OFFLINE


async def test_rewards(busy: Busy) -> None:
    client = busy.client
    assert await client.rewards.attestations(EPOCH - 1, [8]) is None  # not settled yet
    rewards = await client.rewards.attestations(EPOCH - 2, range(16))
    assert rewards is not None
    ideal = rewards.data.ideal_for(32_000_000_000)
    assert ideal is not None
    assert ideal.head > 0
    for row in rewards.data.total_rewards:
        if row.validator_index in OFFLINE:
            assert (row.head, row.target < 0, row.source < 0) == (0, True, True)
        else:
            assert (row.head, row.target, row.source) == (ideal.head, ideal.target, ideal.source)

    header = await client.blocks.header(20)
    block_rewards = await client.rewards.block(20)  # the block with the attester slashing
    assert header is not None
    assert block_rewards is not None
    r = block_rewards.data
    assert r.proposer_index == header.data.proposer_index
    assert r.attester_slashings > 0
    assert (
        r.total == r.attestations + r.sync_aggregate + r.proposer_slashings + r.attester_slashings
    )

    seats = (await client.state.sync_committee("head")).data.validators
    sync = await client.rewards.sync_committee(HEAD - 1, range(VALIDATORS))
    assert sync is not None
    reward = {x.validator_index: x.reward for x in sync.data}
    assert len(reward) == len(sync.data)  # one entry per member, its seats summed
    assert set(reward) == set(seats)
    per_seat = {v: divmod(reward[v], seats.count(v)) for v in reward}
    assert {rest for _, rest in per_seat.values()} == {0}
    online = {unit for v, (unit, _) in per_seat.items() if v not in OFFLINE}
    offline = {unit for v, (unit, _) in per_seat.items() if v in OFFLINE}
    assert len(online) == 1
    assert offline == {-next(iter(online))}  # a missed signature costs what a signature earns


async def test_pools(busy: Busy) -> None:
    client = busy.client
    (attester,) = (await client.op_pool.attester_slashings()).data
    assert attester.slashed_indices == {43}
    (proposer,) = (await client.op_pool.proposer_slashings()).data
    one, two = proposer.signed_header_1.message, proposer.signed_header_2.message
    assert (one.proposer_index, two.proposer_index) == (42, 42)
    assert one.slot == two.slot
    assert one.body_root != two.body_root
    (exit_,) = (await client.op_pool.voluntary_exits()).data
    assert exit_.message.validator_index == 50
