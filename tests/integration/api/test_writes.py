"""Writes (delegations, payouts): bearer token, validated whole, and a refused request changes nothing."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from stakepool.config import Settings
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.api.body import MAX_BODY_BYTES
from tests.integration.api.conftest import GWEI, TOKEN, ApiClient, ServeApi, dump

DAVE = {"delegations": [{"delegator": "dave", "amount_gwei": str(64 * GWEI), "from_epoch": "0"}]}
WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/delegations", DAVE),
    ("/api/v1/payouts", {"delegator": "alice", "amount_gwei": "1"}),
]


async def test_without_a_configured_token_writes_are_off(
    ledger: SqliteLedgerStore, serve_api: ServeApi
) -> None:
    client = await serve_api(ledger, token=None)
    before = dump(ledger.db)
    assert (await client.get("/api/v1/status")).data["writes_enabled"] is False
    for path, body in WRITES:
        for token in (None, TOKEN, ""):
            answer = await client.post(path, body, token=token)
            assert answer.status == 403, (path, token)
            assert "token" in answer.json["message"]
    assert dump(ledger.db) == before


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", "Bearer "],
)
async def test_a_missing_or_wrong_token_is_401(
    client: ApiClient, ledger: SqliteLedgerStore, authorization: str | None
) -> None:
    before = dump(ledger.db)
    headers = {} if authorization is None else {"Authorization": authorization}
    for path, body in WRITES:
        answer = await client.post(path, body, headers=headers)
        assert answer.status == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert dump(ledger.db) == before


async def test_a_delegation_takes_effect_at_the_next_epoch_and_is_journaled(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    settled_before = (await client.get("/api/v1/pool/epochs")).data
    answer = await client.post("/api/v1/delegations", DAVE, token=TOKEN)
    assert answer.status == 200
    assert answer.data == {
        "effective_epoch": 6,
        "delegators": 3,
        "changes": [
            {
                "delegator": "dave",
                "effective_epoch": 6,
                "weight_gwei": str(64 * GWEI),
                "previous_weight_gwei": "0",
                "source": "api",
            }
        ],
    }
    # What is settled stays as it was; the new weight counts from epoch 6 on.
    assert (await client.get("/api/v1/pool/epochs")).data == settled_before
    dave = (await client.get("/api/v1/delegators/dave")).data
    assert (dave["principal_gwei"], dave["accrued_gwei"]) == (
        str(64 * GWEI),
        {"final": "0", "total": "0"},
    )
    await ledger.settle(EpochSettlementInput(6, 19_200, None))
    rows = (await client.get("/api/v1/delegators/dave/epochs", query={"from": "5"})).data
    assert [(r["epoch"], r["weight_gwei"]) for r in rows] == [(5, "0"), (6, str(64 * GWEI))]
    # 19 200 − 10 % fee = 17 280 over 192 Gwei·10^9 of weight: dave holds a third.
    assert rows[1]["credit_gwei"] == "5760"
    assert rows[1]["status"] == "provisional"
    journal = await ledger.delegation_journal(delegator_id="dave")
    assert [(c.effective_epoch, c.weight_gwei) for c in journal] == [(6, 64 * GWEI)]


async def test_replace_drops_the_delegators_left_out(client: ApiClient) -> None:
    body = {
        "replace": True,
        "delegations": [{"delegator": "alice", "amount_gwei": 32 * GWEI, "from_epoch": 0}],
    }
    answer = await client.post("/api/v1/delegations", body, token=TOKEN)
    assert answer.status == 200
    assert answer.data["delegators"] == 1
    assert [(c["delegator"], c["weight_gwei"]) for c in answer.data["changes"]] == [("bob", "0")]
    assert (await client.get("/api/v1/delegators/bob")).data["principal_gwei"] == "0"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            {
                "delegations": [
                    DAVE["delegations"][0],
                    {"delegator": "eve", "amount_gwei": "-5", "from_epoch": 0},
                ]
            },
            "delegations[1]",
        ),
        ({"delegations": [{"delegator": "eve", "amount_gwei": "5"}]}, "from_epoch"),
        (
            {"delegations": [{"delegator": "no spaces", "amount_gwei": "5", "from_epoch": 0}]},
            "delegator",
        ),
        (
            {
                "delegations": [
                    {"delegator": "eve", "amount_gwei": "5", "from_epoch": 9, "to_epoch": 9}
                ]
            },
            "to_epoch",
        ),
        (
            {
                "delegations": [
                    {"delegator": "eve", "amount_gwei": "5", "from_epoch": 0, "bonus": 1}
                ]
            },
            "bonus",
        ),
        ({"delegations": "eve"}, "delegations"),
        ({"delegation": []}, "delegations"),
        ({"delegations": [], "replace": "yes"}, "replace"),
        ({"delegations": [], "effective_epoch": "soon"}, "effective_epoch"),
        ([DAVE], "object"),
    ],
)
async def test_an_invalid_change_set_is_rejected_whole(
    client: ApiClient, ledger: SqliteLedgerStore, body: Any, named: str
) -> None:
    before = dump(ledger.db)
    answer = await client.post("/api/v1/delegations", body, token=TOKEN)
    assert answer.status == 400
    assert named in answer.json["message"], answer.json["message"]
    assert dump(ledger.db) == before


async def test_a_change_in_a_settled_epoch_is_refused(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    before = dump(ledger.db)
    answer = await client.post("/api/v1/delegations", {**DAVE, "effective_epoch": 3}, token=TOKEN)
    assert answer.status == 409
    assert "settled" in answer.json["message"]
    assert dump(ledger.db) == before
    later = await client.post("/api/v1/delegations", {**DAVE, "effective_epoch": "8"}, token=TOKEN)
    assert later.status == 200
    assert later.data["effective_epoch"] == 8


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


async def test_bodies_must_be_json_and_bounded(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    before = dump(ledger.db)
    for path, _body in WRITES:
        text = await client.post(
            path, data=b"delegator=dave", token=TOKEN, headers={"Content-Type": "text/plain"}
        )
        assert text.status == 415
        none = await client.post(path, data=b"{}", token=TOKEN)
        assert none.status == 415
        broken = await client.post(
            path,
            data=b'{"delegations": [',
            token=TOKEN,
            headers={"Content-Type": "application/json"},
        )
        assert broken.status == 400
        assert "not valid JSON" in broken.json["message"]
        huge = b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'
        declared = await client.post(
            path, data=io.BytesIO(huge), token=TOKEN, headers={"Content-Type": "application/json"}
        )
        assert declared.status == 413
        session = client.session  # chunked: no Content-Length to refuse up front
        async with session.post(
            client.base + path,
            data=_chunks(huge),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        ) as chunked:
            assert chunked.status == 413
            assert (await chunked.json())["code"] == 413
    assert dump(ledger.db) == before


async def test_a_payout_reduces_what_is_claimable(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    alice = (await client.get("/api/v1/delegators/alice")).data
    claimable = int(alice["claimable_gwei"])
    assert claimable > 2
    answer = await client.post(
        "/api/v1/payouts",
        {"delegator": "alice", "amount_gwei": str(claimable - 2), "reference": "0xabc"},
        token=TOKEN,
    )
    assert answer.status == 201
    assert answer.data["claimable_after_gwei"] == "2"
    assert (answer.data["delegator"], answer.data["reference"]) == ("alice", "0xabc")
    after = (await client.get("/api/v1/delegators/alice")).data
    assert (after["paid_gwei"], after["claimable_gwei"]) == (str(claimable - 2), "2")
    assert after["accrued_gwei"] == alice["accrued_gwei"]
    # More than what is left: refused, nothing recorded.
    before = dump(ledger.db)
    over = await client.post(
        "/api/v1/payouts", {"delegator": "alice", "amount_gwei": 3}, token=TOKEN
    )
    assert over.status == 409
    assert "claimable" in over.json["message"]
    assert dump(ledger.db) == before


async def test_only_final_money_can_be_paid(client: ApiClient) -> None:
    alice = (await client.get("/api/v1/delegators/alice")).data
    final, total = int(alice["accrued_gwei"]["final"]), int(alice["accrued_gwei"]["total"])
    assert total > final  # provisional epochs 4 and 5 earned more
    answer = await client.post(
        "/api/v1/payouts", {"delegator": "alice", "amount_gwei": str(final + 1)}, token=TOKEN
    )
    assert answer.status == 409


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"delegator": "mallory", "amount_gwei": "1"}, 404, "mallory"),
        ({"delegator": "alice", "amount_gwei": "0"}, 400, "amount_gwei"),
        ({"delegator": "alice", "amount_gwei": "-1"}, 400, "amount_gwei"),
        ({"delegator": "alice", "amount_gwei": 1.5}, 400, "amount_gwei"),
        ({"delegator": "alice", "amount_gwei": True}, 400, "amount_gwei"),
        ({"delegator": "alice"}, 400, "amount_gwei"),
        ({"amount_gwei": "1"}, 400, "delegator"),
        ({"delegator": "", "amount_gwei": "1"}, 400, "delegator"),
        ({"delegator": "alice", "amount_gwei": "1", "reference": "r" * 257}, 400, "reference"),
        ({"delegator": "alice", "amount_gwei": "1", "memo": "x"}, 400, "memo"),
    ],
)
async def test_bad_payouts_are_refused_and_record_nothing(
    client: ApiClient, ledger: SqliteLedgerStore, body: dict[str, Any], status: int, named: str
) -> None:
    before = dump(ledger.db)
    answer = await client.post("/api/v1/payouts", body, token=TOKEN)
    assert answer.status == status
    assert named in answer.json["message"], answer.json["message"]
    assert dump(ledger.db) == before


async def test_the_token_comes_from_the_settings_as_the_daemon_passes_it(
    ledger: SqliteLedgerStore, serve_api: ServeApi
) -> None:
    settings = Settings(http={"token": TOKEN}, pool={"id": "alpha"})
    assert isinstance(settings.http.token, SecretStr)
    api = LedgerApi(ledger, pool_id=settings.pool.id, token=settings.http.token)
    assert api.writes_enabled
    client = await serve_api(ledger, token=settings.http.token)
    answer = await client.post("/api/v1/delegations", DAVE, token=TOKEN)
    assert answer.status == 200
    # A blank credential (an empty file) is no token: writes stay off.
    assert not LedgerApi(ledger, pool_id="alpha", token=SecretStr("  \n")).writes_enabled
