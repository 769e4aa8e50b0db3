"""Balances, operator groups and the standard process families on the daemon's own registry."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stakepool.chain.balance_view import BalanceView
from stakepool.chain.types import Gwei, ValidatorIndex
from stakepool.publish.metrics import Metrics

POOL = [(0, "vc-1"), (1, "vc-1"), (2, None), (3, "vc-2")]
BALANCES = {0: 32_000_000_100, 1: 31_999_999_000, 2: 32_000_000_000, 3: 33_000_000_000}
AS_READ: list[Mapping[ValidatorIndex, Gwei]] = [
    {ValidatorIndex(i): Gwei(b) for i, b in BALANCES.items()},
    BalanceView(array("Q", BALANCES), array("Q", BALANCES.values())),  # as the daemon holds them
]


def series(m: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = m.render().decode()
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


@pytest.mark.parametrize("read", AS_READ, ids=["dict", "view"])
def test_per_validator_balances_and_each_validator_s_operator_group_below_the_limit(
    read: Mapping[ValidatorIndex, Gwei],
) -> None:
    m = Metrics(per_validator_limit=4)
    m.set_pool(POOL)
    m.set_balances(read)
    balances = series(m, "stakepool_validator_balance_gwei")
    assert balances == {(("validator", str(i)),): float(b) for i, b in BALANCES.items()}
    assert series(m, "stakepool_pool_balance_gwei") == {(): float(sum(BALANCES.values()))}
    # The operator's labels are exported below the limit too: sum by (group) stays possible.
    assert series(m, "stakepool_validator_info") == {
        (("group", "vc-1"), ("validator", "0")): 1.0,
        (("group", "vc-1"), ("validator", "1")): 1.0,
        (("group", "unlabelled"), ("validator", "2")): 1.0,
        (("group", "vc-2"), ("validator", "3")): 1.0,
    }
    assert series(m, "stakepool_group_validators") == {}


@pytest.mark.parametrize("read", AS_READ, ids=["dict", "view"])
def test_above_the_limit_a_group_carries_its_stake_and_size_and_sum_gives_the_pool(
    read: Mapping[ValidatorIndex, Gwei],
) -> None:
    m = Metrics(per_validator_limit=3)
    m.set_pool(POOL)
    m.set_balances(read)
    balances = series(m, "stakepool_validator_balance_gwei")
    assert balances == {
        (("group", "vc-1"),): float(BALANCES[0] + BALANCES[1]),
        (("group", "unlabelled"),): float(BALANCES[2]),
        (("group", "vc-2"),): float(BALANCES[3]),
    }
    assert sum(balances.values()) == sum(BALANCES.values())  # no double count
    assert series(m, "stakepool_group_validators") == {
        (("group", "vc-1"),): 2.0,
        (("group", "unlabelled"),): 1.0,
        (("group", "vc-2"),): 1.0,
    }
    assert series(m, "stakepool_validator_info") == {}  # nothing per validator above the limit


def test_before_the_first_epoch_no_balance_is_invented() -> None:
    m = Metrics()
    m.set_pool(POOL)
    assert series(m, "stakepool_validator_balance_gwei") == {}
    assert series(m, "stakepool_pool_balance_gwei") == {(): 0.0}


def test_the_standard_process_and_python_families_are_served() -> None:
    text = Metrics().render().decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "python_info" in names
    assert "python_gc_collections" in names
    if sys.platform == "linux":  # the process collector reads /proc
        assert {"process_resident_memory_bytes", "process_open_fds"} <= names
