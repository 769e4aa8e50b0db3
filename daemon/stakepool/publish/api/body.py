"""Request bodies of the write endpoints: JSON only, bounded in size, read without trusting headers.

The size bound is ours (``MAX_BODY_BYTES``), independent of the application's ``client_max_size``:
a declared ``Content-Length`` over the bound is refused before reading, and a chunked body is read
only up to the bound plus one byte, so an endless upload costs at most that much memory.

Decoding is bounded too: a number of more than ``MAX_NUMBER_DIGITS`` digits (Python refuses to
convert past 4,300 with a bare ``ValueError``) and nesting past the decoder's recursion limit are
400s; nothing this API accepts comes near either.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stakepool.publish.api.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: room for a change set of several thousand delegations."""
MAX_NUMBER_DIGITS = 40
"""Digits in one JSON number; an amount fits in 19 (2^63-1)."""


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
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:  # the decoder recurses per level; it unwinds cleanly
        raise ApiError(400, "the body is nested too deeply") from exc


def _bounded_int(digits: str) -> int:
    # Called with the number's text before any conversion, so a 5,000-digit number never
    # reaches int() (which refuses past 4,300 digits with a bare ValueError: a 500).
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ApiError(
            400, f"the body holds a number of {len(digits)} digits (at most {MAX_NUMBER_DIGITS})"
        )
    return int(digits)


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
