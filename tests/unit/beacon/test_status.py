"""What a non-2xx answer means, per route (route missing vs data 404, etc.)."""

from __future__ import annotations

from typing import Any

import pytest

from stakepool.beacon import routes
from stakepool.beacon.errors import (
    BadRequest,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    NotReady,
    Unsupported,
)
from stakepool.beacon.routes import Route
from stakepool.beacon.status import classify, error_message
from stakepool.beacon.transport import HttpAnswer, retry_after_seconds
from tests.unit.beacon.fixtures import load


def answer(status: int, body: Any = None, text: str = "", content_type: str = "") -> HttpAnswer:
    headers = {"content-type": content_type} if content_type else {}
    return HttpAnswer(status, body, text, headers, body is not None)


JSON = "application/json; charset=utf-8"


LODESTAR_404 = load("lodestar_route_not_found").body


@pytest.mark.parametrize(
    ("route", "ans", "expected"),
    [
        (routes.HEADER, answer(200, {}), None),
        (routes.HEADER, answer(404, {"code": 404, "message": "Block not found"}), NotFound),
        (routes.HEADER, answer(404, None, "404: Not Found"), Unsupported),
        (routes.HEADER, answer(404, None, "404: Not Found", "text/plain"), Unsupported),
        (routes.HEADER, answer(404, None, "<html>404</html>", "text/html"), Unsupported),
        # Declared as JSON but cut short or garbled on the way: spoiled, not a router page.
        (
            routes.HEADER,
            answer(404, None, '{"code":404,"message":"Block not fou', JSON),
            MalformedResponse,
        ),
        (routes.HEADER, answer(404, None, "", "application/problem+json"), MalformedResponse),
        (routes.LIVENESS, answer(404, None, '{"code":40', JSON), MalformedResponse),
        (
            routes.HEADER,
            answer(404, {"code": 404, "message": "Block not found"}, "", JSON),
            NotFound,
        ),
        (routes.VALIDATORS_POST, answer(404, LODESTAR_404), Unsupported),
        (
            routes.VALIDATORS_POST,
            answer(404, {"code": 404, "message": "State not found"}),
            NotFound,
        ),
        (
            routes.ATTESTATION_REWARDS,
            answer(
                404,
                {
                    "statusCode": 404,
                    "error": "Not Found",
                    "message": "Route POST:/eth/v1/beacon/rewards/attestations/3 not found",
                },
            ),
            Unsupported,
        ),
        (
            routes.ATTESTATION_REWARDS,
            answer(404, {"code": 404, "message": "NOT_FOUND: missing state at slot 95"}),
            NotFound,
        ),
        (routes.LIVENESS, answer(404, {"code": 404, "message": "anything"}), Unsupported),
        (routes.HEADER, answer(404, {"code": 404, "message": "NOT_FOUND"}), Unsupported),
        (routes.HEADER, answer(404, {"code": 404, "message": "NOT_FOUND: block 5"}), NotFound),
        (routes.HEADER, answer(404, {"code": 404, "message": "Not found"}), NotFound),
        (routes.LIVENESS, answer(405, {"code": 405, "message": "Method Not Allowed"}), Unsupported),
        (
            routes.BLOCK_REWARDS,
            answer(501, {"code": 501, "message": "Not implemented"}),
            Unsupported,
        ),
        (
            routes.BLOCK_REWARDS,
            answer(404, {"code": 404, "message": "Endpoint not implemented"}),
            Unsupported,
        ),
        (
            routes.ATTESTER_DUTIES,
            answer(400, {"code": 400, "message": "Invalid epoch"}),
            BadRequest,
        ),
        (routes.VALIDATORS_GET, answer(414, {"code": 414, "message": "URI too long"}), BadRequest),
        (
            routes.ATTESTER_DUTIES,
            answer(503, {"code": 503, "message": "Beacon node is syncing"}),
            NotReady,
        ),
        (routes.HEADER, answer(500, {"code": 500, "message": "boom"}), NodeUnavailable),
        (routes.HEADER, answer(429, None, "slow down"), NodeUnavailable),
        (routes.HEADER, answer(302, None, ""), NodeUnavailable),
    ],
)
def test_classify(route: Route, ans: HttpAnswer, expected: type[Exception] | None) -> None:
    got = classify(route, ans, "http://bn")
    if expected is None:
        assert got is None
    else:
        assert type(got) is expected
        assert got is not None
        assert got.endpoint == route.name
        assert got.node == "http://bn"


def test_error_messages_in_both_formats() -> None:
    assert error_message(answer(400, {"code": 400, "message": "bad id"})) == "bad id"
    assert error_message(answer(404, LODESTAR_404)).startswith("Route POST:")
    assert error_message(answer(500, None, "  plain text  ")) == "plain text"
    assert error_message(answer(500, None, "")) == "HTTP 500"
    bad = classify(routes.ATTESTER_DUTIES, answer(400, {"code": 400, "message": "bad id"}), "n")
    assert isinstance(bad, BadRequest)
    assert bad.node_message == "bad id"
    assert bad.status == 400


def test_retry_after() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
