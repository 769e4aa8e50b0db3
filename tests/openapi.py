"""Validate Beacon API requests/responses against the official OpenAPI spec (v4.0.0, CC0).

The spec is copied into ``tests/fixtures/beacon-apis`` so the suite never reads outside the repo.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = Path(__file__).parent / "fixtures" / "beacon-apis" / "beacon-node-oapi.yaml"
BASE_URL = "http://127.0.0.1:5052"


@lru_cache(maxsize=1)
def beacon_api() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


def validate_response(
    method: str,
    path: str,
    body: Any,
    *,
    status: int = 200,
    query: dict[str, Any] | None = None,
    request_body: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Raise if ``body`` is not what the spec allows for ``method path`` with ``status``.

    ``path`` is the concrete path (``/eth/v1/beacon/headers/12``); ``body`` is the decoded JSON
    or raw bytes. Versioned endpoints need their ``Eth-Consensus-Version`` header in ``headers``.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req_data = None if request_body is None else json.dumps(request_body)
    request = MockRequest(
        BASE_URL,
        method.lower(),
        path,
        args=query or {},
        data=req_data,
        content_type="application/json",
    )
    response = MockResponse(
        raw, status_code=status, content_type="application/json", headers=headers or {}
    )
    beacon_api().validate_response(request, response)
