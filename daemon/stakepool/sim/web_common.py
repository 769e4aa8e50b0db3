"""Shared pieces of the simulator's HTTP routes: the app keys, envelopes, errors, id parsing."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from aiohttp import web

from stakepool.sim import ids
from stakepool.sim.chain import SimChain
from stakepool.sim.state import BeaconState

CHAIN = web.AppKey("chain", SimChain)
MAX_BODY_BYTES = 64 << 20
"""Request bodies as large as a real node takes: a ``POST .../validators`` with 200,000 indices is
~2 MB, with 200,000 pubkeys ~20 MB (aiohttp's default refuses anything over 1 MB)."""
FORK = "electra"
VERSION_HEADER = {"Eth-Consensus-Version": FORK}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def json_text(
    text: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def ok(obj: Any, *, versioned: bool = False) -> web.Response:
    return json_text(dumps(obj), headers=VERSION_HEADER if versioned else None)


def error(status: int, message: str) -> web.Response:
    return json_text(dumps({"code": status, "message": message}), status=status)


class ApiError(Exception):
    """Raised inside a handler; the error middleware turns it into a spec error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def chain_of(request: web.Request) -> SimChain:
    return request.app[CHAIN]


def state_or_error(chain: SimChain, state_id: str) -> BeaconState:
    try:
        state = chain.state(state_id)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if state is None:
        raise ApiError(404, "State not found")
    return state


def meta(chain: SimChain, slot: int) -> dict[str, bool]:
    return {"execution_optimistic": False, "finalized": chain.is_finalized_slot(slot)}


def parse_uint(raw: str, what: str) -> int:
    if not raw.isdigit():
        raise ApiError(400, f"Invalid {what}: {raw}")
    return int(raw)


def parse_validator_ids(
    raw: list[Any], n: int, *, allow_pubkeys: bool = True
) -> npt.NDArray[np.int64]:
    """Indices and/or pubkeys → registry indices in request order; unknown ids are dropped."""
    fast = _decimal_ids(raw, n)
    if fast is not None:
        return fast
    out: dict[int, None] = {}
    for item in raw:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise ApiError(400, f"Invalid validator ID: {item!r}")
        text = str(item)
        if text.isdigit():
            index = int(text)
            if index < n:
                out[index] = None
        elif allow_pubkeys and text.startswith("0x") and len(text) == 98:
            found = ids.index_of_pubkey(text)
            if found is not None and found < n:
                out[found] = None
        else:
            raise ApiError(400, f"Invalid validator ID: {text}")
    return np.fromiter(out, dtype=np.int64, count=len(out))


def _decimal_ids(raw: list[Any], n: int) -> npt.NDArray[np.int64] | None:
    """The common case at scale (200,000 decimal index strings) in a few numpy passes; None when
    anything else is in the list (pubkeys, numbers, junk: the general loop decides)."""
    if not raw or not all(type(item) is str for item in raw):
        return None
    joined = "".join(raw)
    if not (joined.isascii() and joined.isdigit()) or max(map(len, raw)) > 18:
        return None
    if min(map(len, raw)) < 1:
        return None
    values = np.fromiter(map(int, raw), dtype=np.int64, count=len(raw))
    values = values[values < n]
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]  # de-duplicated, request order kept


def query_list(request: web.Request, key: str) -> list[str]:
    """Repeated keys and comma-separated values both accepted."""
    values: list[str] = []
    for raw in request.query.getall(key, []):
        values.extend(v for v in raw.split(",") if v)
    return values


async def json_body(request: web.Request, *, default: Any = None) -> Any:
    if not request.body_exists:
        return default
    raw = await request.read()
    if not raw.strip():
        return default
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(400, "Invalid JSON body") from None
