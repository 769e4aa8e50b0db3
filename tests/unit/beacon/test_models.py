"""Parsing every fixture with the wire models: typed values, metadata, optional fields."""

from __future__ import annotations

from typing import Any

import pytest

from stakepool.beacon import routes
from stakepool.beacon.models import (
    EVENT_MODELS,
    AttestationRewards,
    AttesterDuty,
    AttesterSlashing,
    BlockRewards,
    ChainReorgEvent,
    Committee,
    Envelope,
    FinalityCheckpoints,
    Genesis,
    HeaderInfo,
    HeadEvent,
    LegacyLiveness,
    Liveness,
    PendingDeposit,
    ProposerDuty,
    ProposerSlashing,
    SignedBeaconBlock,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
    SyncCommittee,
    SyncCommitteeReward,
    SyncDuty,
    Syncing,
    Topic,
    ValidatorBalance,
    ValidatorInfo,
    ValidatorStatus,
    Version,
    parse_as,
)
from stakepool.beacon.models.events import BeaconEvent
from stakepool.beacon.parsing import envelope_parser
from stakepool.beacon.routes import Route
from stakepool.chain.types import FAR_FUTURE_EPOCH
from tests.unit.beacon.fixtures import events, load


def parse(name: str, route: Route, model: type[Envelope[Any]]) -> Envelope[Any]:
    return envelope_parser(route, model)(load(name).answer(), "http://bn")


def test_genesis() -> None:
    g = parse("genesis", routes.GENESIS, Envelope[Genesis]).data
    assert g.genesis_time == 1606824023
    assert g.genesis_validators_root.startswith("0x4b363db9")
    assert g.genesis_fork_version == "0x00000000"


def test_spec_is_a_raw_flat_map() -> None:
    spec = parse("config_spec", routes.SPEC, Envelope[dict[str, Any]]).data
    assert spec["SLOTS_PER_EPOCH"] == "32"
    assert spec["BLOB_SCHEDULE"][0]["EPOCH"] == "412672"
    assert "SOME_FUTURE_KEY" in spec


def test_syncing_and_version() -> None:
    s = parse("node_syncing", routes.SYNCING, Envelope[Syncing]).data
    assert (s.head_slot, s.sync_distance, s.is_syncing, s.el_offline) == (12345678, 0, False, False)
    v = parse("node_version", routes.VERSION, Envelope[Version]).data
    assert v.client == "lighthouse"
    assert v.release == (8, 0, 1)
    assert Version(version="Lodestar/v1.5.1/2115aa7").client == "lodestar"


def test_syncing_of_an_old_node_without_el_offline() -> None:
    s = Syncing.model_validate({"head_slot": "5", "sync_distance": "0", "is_syncing": False})
    assert s.el_offline is None
    assert s.is_optimistic is False


def test_validators() -> None:
    env = parse("state_validators", routes.VALIDATORS_POST, Envelope[tuple[ValidatorInfo, ...]])
    assert env.finalized is False
    assert env.execution_optimistic is False
    first, slashed, exited, done = env.data
    assert first.index == 12
    assert isinstance(first.balance, int)
    assert first.balance == 2_047_999_999_999  # compounding: above 32 ETH
    assert first.status is ValidatorStatus.ACTIVE_ONGOING
    assert first.validator.exit_epoch == FAR_FUTURE_EPOCH
    assert first.validator.withdrawal_credentials.startswith("0x02")
    assert slashed.validator.slashed is True
    assert slashed.status.group == "active"
    assert exited.status is ValidatorStatus.EXITED_UNSLASHED
    assert done.balance == 0
    got = parse("state_validators_get", routes.VALIDATORS_GET, Envelope[tuple[ValidatorInfo, ...]])
    assert got.finalized is True


def test_balances() -> None:
    env = parse(
        "state_validator_balances", routes.BALANCES_POST, Envelope[tuple[ValidatorBalance, ...]]
    )
    assert [(b.index, b.balance) for b in env.data] == [
        (12, 2_047_999_999_999),
        (13, 31_500_000_000),
        (15, 0),
    ]


def test_finality_checkpoints_and_missing_finalized_means_unknown() -> None:
    env = parse("finality_checkpoints", routes.FINALITY, Envelope[FinalityCheckpoints])
    assert env.data.finalized.epoch == env.data.previous_justified.epoch
    assert env.finalized is False
    lodestar = parse("lodestar_no_finalized", routes.FINALITY, Envelope[FinalityCheckpoints])
    assert lodestar.finalized is None
    assert lodestar.data.current_justified.epoch == 20


def test_committees_and_sync_committee() -> None:
    env = parse("committees", routes.COMMITTEES, Envelope[tuple[Committee, ...]])
    assert env.data[1].index == 1
    assert env.data[1].validators == (12, 13, 505)
    sync = parse("sync_committees", routes.SYNC_COMMITTEES, Envelope[SyncCommittee]).data
    assert sync.validators == (12, 900, 12, 901)
    assert sync.validator_aggregates[1] == (12, 901)


def test_pending_deposits() -> None:
    env = parse("pending_deposits", routes.PENDING_DEPOSITS, Envelope[tuple[PendingDeposit, ...]])
    assert env.version == "electra"
    assert env.data[0].amount == 32_000_000_000
    assert env.data[1].slot == 0


def test_headers() -> None:
    env = parse("header", routes.HEADER, Envelope[HeaderInfo])
    assert env.finalized is True
    assert env.data.slot == 12345678
    assert env.data.proposer_index == 123456
    assert env.data.canonical is True
    many = parse("headers_at_slot", routes.HEADERS, Envelope[tuple[HeaderInfo, ...]])
    assert [h.canonical for h in many.data] == [True, False]


def test_electra_block() -> None:
    env = parse("block_electra", routes.BLOCK, Envelope[SignedBeaconBlock])
    assert env.version == "electra"
    block = env.data.message
    assert (block.slot, block.proposer_index) == (12345678, 123456)
    body = block.body
    assert body.attestations[0].committee_bits == "0x0900000000000000"
    assert body.attestations[0].data.index == 0
    assert body.sync_aggregate is not None
    assert body.sync_aggregate.sync_committee_bits.endswith("7f")
    assert body.proposer_slashings[0].signed_header_1.message.proposer_index == 4242
    assert body.attester_slashings[0].slashed_indices == {202, 303}
    assert body.voluntary_exits[0].message.validator_index == 555
    assert body.bls_to_execution_changes[0].message.to_execution_address == (
        "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c"
    )
    payload = body.payload
    assert payload is not None
    assert payload.block_number == 21_500_123
    assert payload.fee_recipient == "0x388c818ca8b9251b393131c08a736a67ccb19297"
    assert payload.base_fee_per_gas == 4_251_934_513
    assert payload.withdrawals is not None
    assert payload.withdrawals[1].validator_index == 700001
    assert payload.withdrawals[1].amount == 17_000_123
    requests = body.execution_requests
    assert requests is not None
    assert requests.deposits[0].amount == 32_000_000_000
    assert requests.withdrawals[0].amount == 0
    assert requests.consolidations[0].target_pubkey.startswith("0x")


def test_blinded_block_has_the_payload_header() -> None:
    env = parse("blinded_block_electra", routes.BLINDED_BLOCK, Envelope[SignedBeaconBlock])
    payload = env.data.message.body.payload
    assert payload is not None
    assert payload.withdrawals is None
    assert payload.withdrawals_root is not None
    assert payload.block_hash.startswith("0x")


def test_altair_block_without_committee_bits_or_payload() -> None:
    env = parse("block_altair", routes.BLOCK, Envelope[SignedBeaconBlock])
    body = env.data.message.body
    assert body.attestations[0].committee_bits is None
    assert body.attestations[0].data.index == 2
    assert body.payload is None
    assert body.execution_requests is None
    assert body.bls_to_execution_changes == ()


def test_version_falls_back_to_the_header() -> None:
    fx = load("block_attestations")
    body = {k: v for k, v in fx.body.items() if k != "version"}
    answer = fx.answer().__class__(200, body, "", {"eth-consensus-version": "Fulu"}, True)
    env = envelope_parser(routes.BLOCK_ATTESTATIONS, Envelope[tuple[Any, ...]])(answer, "n")
    assert env.version == "fulu"


def test_duties() -> None:
    prop = parse("proposer_duties", routes.PROPOSER_DUTIES, Envelope[tuple[ProposerDuty, ...]])
    assert prop.dependent_root is not None
    assert prop.finalized is None
    assert prop.data[2].slot == 385802 * 32 + 2
    att = parse("attester_duties", routes.ATTESTER_DUTIES, Envelope[tuple[AttesterDuty, ...]])
    assert att.data[0].validator_committee_index == 123
    assert att.data[1].committee_index == 63
    sync = parse("sync_duties", routes.SYNC_DUTIES, Envelope[tuple[SyncDuty, ...]])
    assert sync.data[0].validator_sync_committee_indices == (17, 301)


def test_attestation_rewards_are_signed() -> None:
    env = parse("rewards_attestations", routes.ATTESTATION_REWARDS, Envelope[AttestationRewards])
    assert env.finalized is True
    missed = env.data.total_rewards[1]
    assert (missed.head, missed.target, missed.source, missed.inactivity) == (
        0,
        -5350,
        -2880,
        -1234,
    )
    assert missed.inclusion_delay is None
    assert missed.total == -9464
    ideal = env.data.ideal_for(2_047_000_000_000)
    assert ideal is not None
    assert ideal.target == 5350 * 64
    assert env.data.ideal_for(1) is None


def test_prysm_empty_inclusion_delay_is_absent() -> None:
    row = {"validator_index": "1", "head": "1", "target": "2", "source": "3", "inclusion_delay": ""}
    rewards = AttestationRewards.model_validate({"ideal_rewards": [], "total_rewards": [row]})
    assert rewards.total_rewards[0].inclusion_delay is None


def test_block_and_sync_rewards() -> None:
    block = parse("rewards_blocks", routes.BLOCK_REWARDS, Envelope[BlockRewards]).data
    assert block.total == 40_123_456
    sync = parse(
        "rewards_sync_committee", routes.SYNC_REWARDS, Envelope[tuple[SyncCommitteeReward, ...]]
    )
    assert [r.reward for r in sync.data] == [1416, -1416, 1416]


def test_liveness_both_forms() -> None:
    env = parse("liveness", routes.LIVENESS, Envelope[tuple[Liveness, ...]])
    assert [(x.index, x.is_live, x.epoch) for x in env.data] == [
        (12, True, None),
        (13, False, None),
    ]
    legacy = parse(
        "liveness_legacy_lodestar", routes.LIVENESS_LEGACY, Envelope[tuple[LegacyLiveness, ...]]
    )
    typed = [x.typed() for x in legacy.data]
    assert [(x.index, x.is_live, x.epoch) for x in typed] == [(0, True, 11), (62, False, 11)]


def test_pools() -> None:
    v2 = parse(
        "pool_attester_slashings",
        routes.POOL_ATTESTER_SLASHINGS,
        Envelope[tuple[AttesterSlashing, ...]],
    )
    assert v2.version == "electra"
    assert v2.data[0].attestation_1.attesting_indices == (101, 202, 303)
    v1 = parse(
        "pool_attester_slashings_v1",
        routes.POOL_ATTESTER_SLASHINGS_V1,
        Envelope[tuple[AttesterSlashing, ...]],
    )
    assert v1.version is None
    prop = parse(
        "pool_proposer_slashings",
        routes.POOL_PROPOSER_SLASHINGS,
        Envelope[tuple[ProposerSlashing, ...]],
    )
    assert prop.data[0].signed_header_2.message.proposer_index == 4242
    exits = parse(
        "pool_voluntary_exits",
        routes.POOL_VOLUNTARY_EXITS,
        Envelope[tuple[SignedVoluntaryExit, ...]],
    )
    assert exits.data[0].message.validator_index == 14


@pytest.mark.parametrize("topic", list(Topic))
def test_every_event_payload_parses(topic: Topic) -> None:
    payload = events()[topic.value]
    data = parse_as(EVENT_MODELS[topic], payload, f"event {topic}")
    event = BeaconEvent(topic, data, "http://bn")
    assert event.polled is False
    if isinstance(data, HeadEvent):
        assert data.epoch_transition is False
        assert data.current_duty_dependent_root is not None
    if isinstance(data, ChainReorgEvent):
        assert data.depth == 2
    if isinstance(data, SignedBLSToExecutionChange):
        assert data.message.validator_index == 777
