"""Spec dictionaries: complete enough for the sim and for the daemon's ChainSpec."""

from __future__ import annotations

import pytest

from stakepool.chain.spec import ChainSpec
from stakepool.sim import ids
from stakepool.sim.params import SimParams
from stakepool.sim.presets import PRESETS, merged, spec_for


@pytest.mark.parametrize("preset", PRESETS)
def test_every_value_is_a_string_and_parses(preset: str) -> None:
    spec = spec_for(preset)
    assert all(isinstance(v, str) for v in spec.values())
    params = SimParams.from_spec(spec)
    chain_spec = ChainSpec.from_api(spec, 1_600_000_000, "0x" + "11" * 32)
    assert chain_spec.slots_per_epoch == params.slots_per_epoch
    assert chain_spec.fork_at(0) == "electra"


def test_presets_differ_only_by_their_numbers() -> None:
    minimal, mainnet, gnosis = (SimParams.from_spec(spec_for(p)) for p in PRESETS)
    assert (minimal.slots_per_epoch, mainnet.slots_per_epoch, gnosis.slots_per_epoch) == (8, 32, 16)
    assert (minimal.sync_committee_size, mainnet.sync_committee_size) == (32, 512)
    assert (minimal.max_withdrawals_per_payload, mainnet.max_withdrawals_per_payload) == (4, 16)
    assert mainnet.slot_duration_ms == 12_000
    assert gnosis.slot_duration_ms == 5_000


def test_sub_second_slots_drop_seconds_per_slot() -> None:
    spec = spec_for("minimal", slot_duration_ms=50)
    assert spec["SLOT_DURATION_MS"] == "50"
    assert "SECONDS_PER_SLOT" not in spec
    assert spec_for("minimal", slot_duration_ms=2000)["SECONDS_PER_SLOT"] == "2"
    assert SimParams.from_spec(spec).slot_duration_ms == 50


def test_missing_parameter_is_an_error() -> None:
    spec = spec_for("minimal")
    del spec["BASE_REWARD_FACTOR"]
    with pytest.raises(ValueError, match="BASE_REWARD_FACTOR"):
        SimParams.from_spec(spec)
    assert (
        SimParams.from_spec(merged(spec_for("minimal"), BASE_REWARD_FACTOR=32)).base_reward_factor
        == 32
    )


def test_pubkeys_name_their_index() -> None:
    for index in (0, 1, 255, 1_999_999, 2**40):
        key = ids.pubkey(index)
        assert len(key) == 98
        assert key == key.lower()
        assert ids.index_of_pubkey(key) == index
        assert ids.index_of_pubkey(key.upper().replace("0X", "0x")) == index
    assert ids.index_of_pubkey("0x" + "a5" * 48) is None
    assert ids.index_of_pubkey("0x12") is None
