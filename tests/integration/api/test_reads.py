"""What a dashboard or an accountant reads from the ledger API, against figures we know by hand.

Every answer here was also checked against the OpenAPI document (``ApiClient``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from stakepool.ledger.queries import EpochRange
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database
from tests.integration.api.conftest import (
    EPOCHS,
    GWEI,
    POLICY,
    POOL_ID,
    ApiClient,
    ServeApi,
)

# Per epoch k: R = CL + EL (Gwei), fee = 10 % of a positive R, distributed = R − fee.
REWARDS = [22_000, 9_500, 30_000, -5_000, 20_000, 20_001]
FEES = [2_200, 950, 3_000, 0, 2_000, 2_000]
DISTRIBUTED = [r - f for r, f in zip(REWARDS, FEES, strict=True)]
FINAL = range(4)  # finalized_epoch 4 → epochs 0..3 final
WEIGHTS = {
    "alice": [32 * GWEI] * 6,
    "bob": [96 * GWEI] * 6,
    "carol": [0, 0, 32 * GWEI, 32 * GWEI, 0, 0],
}


def exact_share(delegator: str, epochs: range) -> Fraction:
    total = Fraction(0)
    for k in epochs:
        weight = sum(w[k] for w in WEIGHTS.values())
        total += Fraction(DISTRIBUTED[k] * WEIGHTS[delegator][k], weight)
    return total


async def test_status_says_what_is_settled_and_final(client: ApiClient) -> None:
    answer = await client.get("/api/v1/status")
    assert answer.status == 200
    assert answer.data == {
        "pool_id": "alpha",
        "version": answer.data["version"],
        "writes_enabled": True,
        "last_settled_epoch": 5,
        "last_final_epoch": 3,
        "finalized_epoch": 4,
        "delegators": 2,
        "reversed_epochs": 0,
    }


async def test_pool_totals_are_final_and_total_pairs_of_the_known_figures(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    pool = (await client.get("/api/v1/pool")).data

    def pair(values: list[int]) -> dict[str, str]:
        return {"final": str(sum(values[k] for k in FINAL)), "total": str(sum(values))}

    assert pool["rewards_gwei"] == pair(REWARDS)
    assert pool["fees_gwei"] == pair(FEES)
    assert pool["distributed_gwei"] == pair(DISTRIBUTED)
    assert pool["rewards_el_gwei"] == {"final": "1500", "total": "1500"}
    assert pool["principal_gwei"] == {"final": str(160 * GWEI), "total": str(128 * GWEI)}
    assert (pool["delegators"], pool["last_settled_epoch"], pool["last_final_epoch"]) == (2, 5, 3)
    # Conservation: what the delegators accrued plus the dust is exactly what was distributed.
    delegators = (await client.get("/api/v1/delegators")).data
    for side in ("final", "total"):
        credited = sum(int(d["accrued_gwei"][side]) for d in delegators)
        dust = int(pool["dust_gwei"][side])
        assert credited + dust == int(pool["distributed_gwei"][side])
        assert 0 <= dust < len(delegators)
    # And the API says exactly what the ledger's own query says.
    totals = await ledger.pool_totals()
    assert pool["dust_gwei"] == {
        "final": str(totals.dust_gwei.final),
        "total": str(totals.dust_gwei.total),
    }
    assert pool["unassigned_gwei"] == {
        "final": str(totals.unassigned_gwei.final),
        "total": str(totals.unassigned_gwei.total),
    }


async def test_pool_epochs_carry_status_and_unknown_el_rewards_as_null(client: ApiClient) -> None:
    rows = (await client.get("/api/v1/pool/epochs", query={"from": "0", "to": "5"})).data
    assert [r["epoch"] for r in rows] == list(range(6))
    assert [r["status"] for r in rows] == ["final"] * 4 + ["provisional"] * 2
    assert [r["reward_el_gwei"] for r in rows] == [None, "1500", None, None, "0", None]
    assert [r["reward_cl_gwei"] for r in rows] == [str(e.cl_reward_gwei) for e in EPOCHS]
    assert [r["reward_gwei"] for r in rows] == [str(r) for r in REWARDS]
    assert [r["fee_gwei"] for r in rows] == [str(f) for f in FEES]
    assert [r["distributed_gwei"] for r in rows] == [str(d) for d in DISTRIBUTED]
    assert [int(r["total_weight_gwei"]) // GWEI for r in rows] == [128, 128, 160, 160, 128, 128]


@pytest.mark.parametrize(
    ("query", "epochs"),
    [
        ({"from": "1", "to": "2"}, [1, 2]),
        ({"to": "1"}, [0, 1]),
        ({"from": "4"}, [4, 5]),
        ({}, [0, 1, 2, 3, 4, 5]),
        ({"from": "10", "to": "20"}, []),
        ({"from": "3", "to": "3"}, [3]),
    ],
)
async def test_epoch_ranges_are_inclusive_and_open_ends_default_to_the_ledger(
    client: ApiClient, query: dict[str, str], epochs: list[int]
) -> None:
    for path in ("/api/v1/pool/epochs", "/api/v1/validators/10/epochs"):
        rows = (await client.get(path, query=query)).data
        assert [r["epoch"] for r in rows] == epochs, path
    rows = (await client.get("/api/v1/delegators/alice/epochs", query=query)).data
    assert [r["epoch"] for r in rows] == epochs


async def test_validators_list_their_settlement_as_final_and_total(client: ApiClient) -> None:
    rows = (await client.get("/api/v1/validators")).data
    assert [r["validator_index"] for r in rows] == [10, 11]
    by_index = {r["validator_index"]: r for r in rows}
    for index in (10, 11):
        rewards = [
            next(v.reward_gwei for v in e.validators if v.validator_index == index) for e in EPOCHS
        ]
        assert by_index[index]["reward_gwei"] == {
            "final": str(sum(rewards[k] for k in FINAL)),
            "total": str(sum(rewards)),
        }
        assert (by_index[index]["first_epoch"], by_index[index]["last_epoch"]) == (0, 5)


async def test_validator_epochs_show_settlement_explanation_and_duties(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    rows = (await client.get("/api/v1/validators/11/epochs")).data
    assert [r["reward_gwei"] for r in rows] == [
        "12000",
        "-3000",
        "12000",
        "-2500",
        "10000",
        "10000",
    ]
    assert [r["attestation_included"] for r in rows] == [True, False, True, None, True, True]
    assert rows[0]["components_gwei"] == {"head": "3000", "source": "3000", "target": "6000"}
    assert rows[0]["residual_gwei"] == "0"
    # Epoch 3: the node could not explain; the API says so instead of inventing figures.
    assert (rows[3]["components_gwei"], rows[3]["residual_gwei"]) == (None, None)
    assert (rows[5]["proposals"], rows[5]["proposals_missed"]) == (1, 1)
    assert [r["status"] for r in rows] == ["final"] * 4 + ["provisional"] * 2
    stored = await ledger.validator_epochs(11, EpochRange())
    assert [int(r["reward_gwei"]) for r in rows] == [v.reward_gwei for v in stored]


async def test_delegator_detail_is_within_one_gwei_of_the_exact_share(client: ApiClient) -> None:
    for delegator in WEIGHTS:
        data = (await client.get(f"/api/v1/delegators/{delegator}")).data
        final, total = int(data["accrued_gwei"]["final"]), int(data["accrued_gwei"]["total"])
        assert abs(final - exact_share(delegator, FINAL)) <= 1, delegator
        assert abs(total - exact_share(delegator, range(6))) <= 1, delegator
        assert data["paid_gwei"] == "0"
        assert data["claimable_gwei"] == str(final)  # only final money is claimable
    carol = (await client.get("/api/v1/delegators/carol")).data
    assert (carol["principal_gwei"], carol["first_epoch"]) == ("0", 2)


async def test_delegator_epochs_add_up_to_the_accrued_amount(client: ApiClient) -> None:
    for delegator, weights in WEIGHTS.items():
        rows = (await client.get(f"/api/v1/delegators/{delegator}/epochs")).data
        detail = (await client.get(f"/api/v1/delegators/{delegator}")).data
        assert [int(r["weight_gwei"]) for r in rows] == weights
        assert sum(int(r["credit_gwei"]) for r in rows) == int(detail["accrued_gwei"]["total"])
        assert rows[-1]["accrued_gwei"] == detail["accrued_gwei"]["total"]
        assert rows[3]["accrued_gwei"] == detail["accrued_gwei"]["final"]
        assert [r["status"] for r in rows] == ["final"] * 4 + ["provisional"] * 2


async def test_delegators_are_paged_by_cursor(client: ApiClient) -> None:
    seen: list[str] = []
    query = {"limit": "1"}
    for _ in range(10):  # bounded: three delegators, one a page
        answer = await client.get("/api/v1/delegators", query=query)
        seen += [d["id"] for d in answer.data]
        assert answer.json["meta"]["limit"] == 1
        cursor = answer.json["meta"]["next_cursor"]
        if cursor is None:
            break
        query = {"limit": "1", "cursor": cursor}
    assert seen == ["alice", "bob", "carol"]
    whole = await client.get("/api/v1/delegators")
    assert [d["id"] for d in whole.data] == seen
    assert whole.json["meta"]["next_cursor"] is None


async def test_openapi_document_is_served(client: ApiClient) -> None:
    answer = await client.get("/api/v1/openapi.json")
    assert answer.status == 200
    assert answer.json["openapi"].startswith("3.1")
    assert "/api/v1/pool" in answer.json["paths"]


async def test_an_empty_ledger_answers_with_empty_figures(
    serve_api: ServeApi, tmp_path: Path
) -> None:
    # Fresh database: nothing settled yet; every read still answers, with nulls and zeros.
    db = Database.open(tmp_path / "empty.sqlite")
    try:
        client = await serve_api(SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY))
        status = (await client.get("/api/v1/status")).data
        assert (status["last_settled_epoch"], status["last_final_epoch"]) == (None, None)
        pool = (await client.get("/api/v1/pool")).data
        assert pool["rewards_gwei"] == {"final": "0", "total": "0"}
        assert (await client.get("/api/v1/pool/epochs")).data == []
        assert (await client.get("/api/v1/validators")).data == []
        assert (await client.get("/api/v1/delegators")).data == []
        assert (await client.get("/api/v1/validators/10/epochs")).status == 404
    finally:
        db.close()


async def test_new_epochs_show_up_in_the_cached_validator_list(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    assert [v["validator_index"] for v in (await client.get("/api/v1/validators")).data] == [10, 11]
    assert (await client.get("/api/v1/validators/12/epochs")).status == 404
    joined = (ValidatorEpochRow(10, 5_000), ValidatorEpochRow(12, 7_000))
    await ledger.settle(EpochSettlementInput(6, 12_000, None, joined))
    rows = (await client.get("/api/v1/validators")).data
    assert [v["validator_index"] for v in rows] == [10, 11, 12]
    assert rows[2]["reward_gwei"] == {"final": "0", "total": "7000"}
    epochs = (await client.get("/api/v1/validators/12/epochs")).data
    assert [(r["epoch"], r["status"]) for r in epochs] == [(6, "provisional")]
    await ledger.finalize(8)
    rows = (await client.get("/api/v1/validators")).data
    assert rows[2]["reward_gwei"] == {"final": "7000", "total": "7000"}


async def test_a_closed_database_is_503_and_the_server_keeps_answering(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    ledger.db.close()
    answer = await client.get("/api/v1/pool")
    assert answer.status == 503
    assert answer.json == {"code": 503, "message": "the ledger database is unavailable"}
    async with client.session.get(client.base + "/healthz") as healthz:
        assert healthz.status == 200
