"""Request bodies of the write endpoints: JSON only, bounded in size, read without trusting headers.

The size bound is ours (``MAX_BODY_BYTES``), independent of the application's ``client_max_size``:
a declared ``Content-Length`` over the bound is refused before reading, and a chunked body is read
only up to the bound plus one byte, so an endless upload costs at most that much memory.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stakepool.publish.api.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: room for a change set of several thousand delegations."""


async def read_json(request: web.Request, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    if request.content_type != "application/json":
        shown = request.content_type or "none"
        raise ApiError(415, f"the body must be JSON (Content-Type: application/json), got {shown}")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError(413, f"the body is larger than {max_bytes} bytes")
    raw = await _read_at_most(request, max_bytes)
    if request.charset not in (None, "utf-8", "UTF-8"):
        raise ApiError(415, f"the body must be UTF-8 JSON, got charset {request.charset}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc


async def _read_at_most(request: web.Request, max_bytes: int) -> bytes:
    # StreamReader.read(n) returns what has arrived (one chunk), not n bytes: loop to EOF.
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(max_bytes + 1 - size)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"the body is larger than {max_bytes} bytes")


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object, got {type(body).__name__}")
    return body
