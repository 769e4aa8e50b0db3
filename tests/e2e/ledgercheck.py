"""stakepool's money figures, read from its HTTP API, held against the node's own balances.

The node has no withdrawals or deposits on this Altair devnet, so each validator's reward for
window ``k`` is simply its balance at ``LAST(k)`` minus its balance at ``LAST(k − 1)``, both read
from the node by ``NodeRecorder`` as the chain went.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

DELEGATIONS = """\
[[delegation]]
delegator = "alice"
amount_gwei = 20000000000
from_epoch = 0

[[delegation]]
delegator = "bob"
amount_gwei = 12000000000
from_epoch = 4
"""
"""Alice from the start, Bob joins at epoch 4: the split changes mid-run."""


def api(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + "/api/v1" + path, timeout=10) as answer:
        return json.load(answer)["data"]


def validator_epochs(base: str, pool: list[int]) -> dict[int, dict[int, dict[str, Any]]]:
    """validator → epoch → the API's row."""
    return {
        v: {int(row["epoch"]): row for row in api(base, f"/validators/{v}/epochs")} for v in pool
    }


def assert_rewards_match_the_node(
    rows: dict[int, dict[int, dict[str, Any]]], balances: dict[int, dict[int, int]]
) -> list[int]:
    """Every settled (validator, epoch) whose two balances the test read: reward == ΔB. Returns
    the epochs compared."""
    compared: set[int] = set()
    for v, by_epoch in rows.items():
        for k, row in by_epoch.items():
            if k not in balances or k - 1 not in balances:
                continue
            delta = balances[k][v] - balances[k - 1][v]
            assert int(row["reward_gwei"]) == delta, (v, k, row, delta)
            compared.add(k)
            # No rewards endpoints on this node: the explanation is marked unavailable.
            assert row["components_gwei"] is None, row
            assert row["residual_gwei"] is None, row
    return sorted(compared)


def assert_ledger_conserves(
    base: str, rows: dict[int, dict[int, dict[str, Any]]]
) -> dict[str, Any]:
    """Σ delegator credits + fees + dust (+ bond + unassigned) == Σ pool rewards, and the pool's
    rewards are the sum of its validators' (no EL client configured: EL counts 0)."""
    pool = api(base, "/pool")
    delegators = api(base, "/delegators?limit=1000")
    credits = sum(int(d["accrued_gwei"]["total"]) for d in delegators)

    def total(name: str) -> int:
        return int(pool[name]["total"])

    assert credits + total("fees_gwei") + total("dust_gwei") + total(
        "operator_bond_delta_gwei"
    ) + total("unassigned_gwei") == total("rewards_gwei"), (pool, delegators)
    assert 0 <= total("dust_gwei") < max(1, len(delegators)), pool
    assert total("distributed_gwei") == credits + total("dust_gwei"), (pool, delegators)
    per_validator = sum(int(r["reward_gwei"]) for by in rows.values() for r in by.values())
    assert total("rewards_cl_gwei") == per_validator == total("rewards_gwei"), pool
    assert {d["id"] for d in delegators} == {"alice", "bob"}, delegators
    return dict(pool)
