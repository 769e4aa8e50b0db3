"""Every recorded fixture is what the official OpenAPI spec allows (unless it records a quirk)."""

from __future__ import annotations

import pytest

from tests.openapi import validate_response
from tests.unit.beacon.fixtures import load, names


@pytest.mark.parametrize("name", [n for n in names() if load(n).spec_valid])
def test_fixture_matches_the_openapi_spec(name: str) -> None:
    fx = load(name)
    validate_response(
        fx.method,
        fx.path,
        fx.body,
        status=fx.status,
        query=fx.query,
        request_body=fx.request_body,
        headers=fx.headers,
    )


def test_every_client_route_has_a_fixture() -> None:
    have = set(names())
    needed = {
        "genesis",
        "config_spec",
        "node_syncing",
        "node_version",
        "state_validators",
        "state_validators_get",
        "state_validator_balances",
        "finality_checkpoints",
        "committees",
        "sync_committees",
        "pending_deposits",
        "header",
        "headers_at_slot",
        "block_electra",
        "block_altair",
        "blinded_block_electra",
        "block_attestations",
        "proposer_duties",
        "attester_duties",
        "sync_duties",
        "rewards_attestations",
        "rewards_blocks",
        "rewards_sync_committee",
        "liveness",
        "liveness_legacy_lodestar",
        "pool_attester_slashings",
        "pool_attester_slashings_v1",
        "pool_proposer_slashings",
        "pool_voluntary_exits",
    }
    assert needed <= have


def test_a_spec_violation_is_caught_by_the_validator() -> None:
    fx = load("state_validators")
    body = {**fx.body, "data": [{**fx.body["data"][0], "index": 12}]}
    with pytest.raises(Exception, match=r"(?i)invalid|data"):
        validate_response(fx.method, fx.path, body, request_body=fx.request_body)
