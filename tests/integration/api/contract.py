"""Check every answer of our ledger API against its own OpenAPI document (openapi-core).

Like ``tests/openapi.py`` does for the Beacon API, but the document is the one the daemon serves,
read from the package, so the server and its published contract cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from stakepool.publish.api import openapi_document

BASE_URL = "http://127.0.0.1"


@lru_cache(maxsize=1)
def ledger_api_spec() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(openapi_document()))


def validate_answer(
    method: str,
    path: str,
    *,
    status: int,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str] | None = None,
) -> None:
    """Raise if the answer to ``method path`` is not what the document allows for ``status``."""
    request = MockRequest(BASE_URL, method.lower(), path, args=query or {})
    response = MockResponse(
        body,
        status_code=status,
        content_type=headers.get("Content-Type", "").split(";")[0],
        headers=headers,
    )
    ledger_api_spec().validate_response(request, response)


def validate_request(
    method: str,
    path: str,
    *,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str] | None = None,
) -> None:
    """Raise if the document does not accept this request (used for requests the server took)."""
    request = MockRequest(
        BASE_URL,
        method.lower(),
        path,
        args=query or {},
        data=body,
        headers=headers,
        content_type="application/json",
    )
    ledger_api_spec().validate_request(request)


def spec_operations() -> set[tuple[str, str]]:
    """``{(METHOD, path), ...}`` the document describes."""
    doc: dict[str, Any] = json.loads(openapi_document())
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
