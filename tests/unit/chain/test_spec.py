"""Chain parameters come from the node, for any network."""

from __future__ import annotations

from typing import Any

import pytest

from stakepool.chain.spec import ChainSpec, SpecError

ROOT = "0x4B363DB94E286120D76EB905340FDD4E54BFE9F06BF33FF6CF5AD27F511BFE95"


def _spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "PRESET_BASE": "mainnet",
        "CONFIG_NAME": "mainnet",
        "SECONDS_PER_SLOT": "12",
        "SLOTS_PER_EPOCH": "32",
        "EFFECTIVE_BALANCE_INCREMENT": "1000000000",
        "MAX_EFFECTIVE_BALANCE": "32000000000",
        "MAX_EFFECTIVE_BALANCE_ELECTRA": "2048000000000",
        "MIN_ACTIVATION_BALANCE": "32000000000",
        "BASE_REWARD_FACTOR": "64",
        "SYNC_COMMITTEE_SIZE": "512",
        "EPOCHS_PER_SYNC_COMMITTEE_PERIOD": "256",
        "MAX_COMMITTEES_PER_SLOT": "64",
        "TARGET_COMMITTEE_SIZE": "128",
        "ALTAIR_FORK_EPOCH": "74240",
        "BELLATRIX_FORK_EPOCH": "144896",
        "CAPELLA_FORK_EPOCH": "194048",
        "DENEB_FORK_EPOCH": "269568",
        "ELECTRA_FORK_EPOCH": "364032",
        "FULU_FORK_EPOCH": "411392",
        "GLOAS_FORK_EPOCH": "18446744073709551615",
        "BLOB_SCHEDULE": [{"EPOCH": "412672", "MAX_BLOBS_PER_BLOCK": "15"}],
        "DEPOSIT_CONTRACT_ADDRESS": "0x00000000219ab540356cBB839Cbe05303d7705Fa",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_mainnet() -> None:
    spec = ChainSpec.from_api(_spec(), 1606824023, ROOT)
    assert spec.slots_per_epoch == 32
    assert spec.slot_duration_ms == 12_000
    assert spec.genesis_validators_root == ROOT.lower()
    assert spec.max_effective_balance == 2048 * 10**9
    assert spec.fork_at(364031) == "deneb"
    assert spec.fork_at(411392) == "fulu"
    assert spec.fork_at(10**9) == "fulu"  # gloas is scheduled at the far-future epoch
    assert not spec.is_active("gloas", 10**12)
    assert spec.weights["TIMELY_TARGET_WEIGHT"] == 26
    assert spec.uint("SYNC_COMMITTEE_SIZE") == 512
    clock = spec.clock()
    assert clock.slot_at(clock.genesis_ms + 24_000) == 2


def test_slot_duration_ms_wins_over_seconds() -> None:
    spec = ChainSpec.from_api(_spec(SLOT_DURATION_MS="6000", SECONDS_PER_SLOT=None), 0, ROOT)
    assert spec.slot_duration_ms == 6000
    both = ChainSpec.from_api(_spec(SLOT_DURATION_MS="11000"), 0, ROOT)
    assert both.slot_duration_ms == 11000


def test_gnosis_and_minimal() -> None:
    gnosis = ChainSpec.from_api(
        _spec(SECONDS_PER_SLOT="5", SLOTS_PER_EPOCH="16", BASE_REWARD_FACTOR="25"), 0, ROOT
    )
    assert (gnosis.slots_per_epoch, gnosis.slot_duration_ms, gnosis.base_reward_factor) == (
        16,
        5000,
        25,
    )
    minimal = ChainSpec.from_api(
        _spec(
            PRESET_BASE="minimal",
            SECONDS_PER_SLOT="6",
            SLOTS_PER_EPOCH="8",
            ALTAIR_FORK_EPOCH="0",
            BELLATRIX_FORK_EPOCH="0",
            CAPELLA_FORK_EPOCH="0",
            DENEB_FORK_EPOCH="0",
            ELECTRA_FORK_EPOCH="0",
            FULU_FORK_EPOCH="18446744073709551615",
        ),
        0,
        ROOT,
    )
    assert minimal.fork_at(0) == "electra"  # ties at epoch 0 resolve to the latest fork
    assert minimal.slots_per_epoch == 8


def test_pre_electra_node_without_electra_keys() -> None:
    spec = ChainSpec.from_api(
        _spec(MAX_EFFECTIVE_BALANCE_ELECTRA=None, MIN_ACTIVATION_BALANCE=None), 0, ROOT
    )
    assert spec.max_effective_balance == 32 * 10**9
    assert spec.min_activation_balance == 32 * 10**9


def test_node_stated_weight_wins() -> None:
    spec = ChainSpec.from_api(_spec(TIMELY_HEAD_WEIGHT="15"), 0, ROOT)
    assert spec.weights["TIMELY_HEAD_WEIGHT"] == 15


def test_the_slashing_penalty_follows_the_fork_of_the_window() -> None:
    # A slashing on an Altair chain costs 1/64 of the balance at once, not Electra's 1/4096:
    # bounding it by Electra's refused a real Lodestar devnet's slashing window (the e2e test).
    spec = ChainSpec.from_api(_spec(), 0, ROOT)
    assert spec.min_slashing_penalty_quotient(0) == 128
    assert spec.min_slashing_penalty_quotient(74240) == 64
    assert spec.min_slashing_penalty_quotient(144896) == 32
    assert spec.min_slashing_penalty_quotient(364031) == 32
    assert spec.min_slashing_penalty_quotient(364032) == 4096
    assert spec.min_slashing_penalty_quotient(411392) == 4096  # Fulu keeps Electra's
    stated = ChainSpec.from_api(
        _spec(ELECTRA_FORK_EPOCH=str(2**64 - 1), MIN_SLASHING_PENALTY_QUOTIENT_BELLATRIX="16"),
        0,
        ROOT,
    )
    assert stated.min_slashing_penalty_quotient(10**7) == 16


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"SLOTS_PER_EPOCH": None}, "SLOTS_PER_EPOCH"),
        ({"SLOTS_PER_EPOCH": "thirty-two"}, "SLOTS_PER_EPOCH"),
        ({"SLOTS_PER_EPOCH": "0"}, "SLOTS_PER_EPOCH"),
        ({"SECONDS_PER_SLOT": None}, "SLOT_DURATION_MS"),
        ({"SECONDS_PER_SLOT": "12.5"}, "SECONDS_PER_SLOT"),
        ({"BASE_REWARD_FACTOR": 64.0}, "BASE_REWARD_FACTOR"),
        ({"ELECTRA_FORK_EPOCH": True}, "ELECTRA_FORK_EPOCH"),
        (
            {"MIN_SLASHING_PENALTY_QUOTIENT_ALTAIR": "0"},
            "MIN_SLASHING_PENALTY_QUOTIENT_ALTAIR",
        ),
    ],
)
def test_garbled_spec_names_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError) as err:
        ChainSpec.from_api(_spec(**overrides), 0, ROOT)
    assert err.value.key == key
    assert key in str(err.value)
