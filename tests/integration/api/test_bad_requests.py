"""Bad reads get a clear JSON error naming what was wrong; errors match the OpenAPI document too."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import ApiClient

RANGED = ("/api/v1/pool/epochs", "/api/v1/validators/10/epochs", "/api/v1/delegators/alice/epochs")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"from": "abc"}, "from"),
        ({"to": "-1"}, "to"),
        ({"from": "1e3"}, "from"),
        ({"from": " 1"}, "from"),
        ({"to": "99999999999999999999999"}, "to"),
        ({"from": "3", "to": "1"}, "from"),
        ({"from": "0", "to": "1000"}, "1000"),  # 1001 epochs: over the span bound
    ],
)
async def test_bad_epoch_ranges_are_400_naming_the_parameter(
    client: ApiClient, query: dict[str, str], named: str
) -> None:
    for path in RANGED:
        answer = await client.get(path, query=query)
        assert answer.status == 400, path
        assert answer.json["code"] == 400
        assert named in answer.json["message"], answer.json["message"]


async def test_the_widest_allowed_range_is_accepted(client: ApiClient) -> None:
    for path in RANGED:
        answer = await client.get(path, query={"from": "0", "to": "999"})
        assert answer.status == 200
        assert [r["epoch"] for r in answer.data] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "x" * 300}, "cursor"),
    ],
)
async def test_bad_paging_is_400_naming_the_parameter(
    client: ApiClient, query: dict[str, str], named: str
) -> None:
    answer = await client.get("/api/v1/delegators", query=query)
    assert answer.status == 400
    assert named in answer.json["message"]


async def test_the_largest_page_is_accepted(client: ApiClient) -> None:
    answer = await client.get("/api/v1/delegators", query={"limit": "1000"})
    assert answer.status == 200
    assert len(answer.data) == 3


async def test_bad_validator_index_is_400_and_unknown_validator_404(client: ApiClient) -> None:
    bad = await client.get("/api/v1/validators/ten/epochs")
    assert bad.status == 400
    assert "'index'" in bad.json["message"]
    unknown = await client.get("/api/v1/validators/99/epochs")
    assert unknown.status == 404
    assert unknown.json == {"code": 404, "message": "validator 99 is not in the ledger"}
    # A pool validator with no rows in the range is not unknown: an empty list.
    empty = await client.get("/api/v1/validators/10/epochs", query={"from": "100"})
    assert (empty.status, empty.data) == (200, [])


async def test_unknown_delegator_is_404(client: ApiClient) -> None:
    for path in ("/api/v1/delegators/mallory", "/api/v1/delegators/mallory/epochs"):
        answer = await client.get(path)
        assert answer.status == 404
        assert "mallory" in answer.json["message"]


async def test_unknown_paths_and_methods_answer_json_errors(client: ApiClient) -> None:
    missing = await client.get("/api/v1/nothing-here", check_contract=False)
    assert missing.status == 404
    assert missing.json["code"] == 404
    assert "/api/v1/nothing-here" in missing.json["message"]
    wrong = await client.request("DELETE", "/api/v1/pool", check_contract=False)
    assert wrong.status == 405
    assert wrong.json["code"] == 405
    assert wrong.headers["Allow"] == "GET"
    head = await client.request("POST", "/api/v1/status", check_contract=False)
    assert head.status == 405
