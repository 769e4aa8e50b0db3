"""Validate Keymanager API answers against the official spec (ethereum/keymanager-APIs, CC0).

The spec is copied into ``tests/fixtures/keymanager-apis`` so the suite never reads outside the repo.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = Path(__file__).parent / "fixtures" / "keymanager-apis" / "keymanager-oapi.yaml"
BASE_URL = "http://localhost/"


@lru_cache(maxsize=1)
def keymanager_api() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


def validate_keymanager_answer(
    method: str, path: str, body: bytes, *, status: int, request_body: Any = None
) -> None:
    """Raise if ``body`` is not what the spec allows for ``method path`` with ``status``."""
    request = MockRequest(
        BASE_URL,
        method.lower(),
        path,
        data=None if request_body is None else json.dumps(request_body),
        content_type="application/json",
    )
    response = MockResponse(body, status_code=status, content_type="application/json")
    keymanager_api().validate_response(request, response)
