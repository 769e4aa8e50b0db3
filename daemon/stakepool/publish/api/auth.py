"""The bearer token that guards the write endpoints.

No token configured → writes are off (403, whatever the request carries): an operator who never
set a credential cannot be written to by accident. A missing or wrong token → 401 with
``WWW-Authenticate: Bearer``. The comparison is constant-time (``hmac.compare_digest`` on bytes),
so response timing does not reveal how much of a guess was right.
"""

from __future__ import annotations

import hmac

import structlog
from aiohttp import web

from stakepool.publish.api.errors import ApiError

log = structlog.get_logger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="stakepool"'}


def require_writer(request: web.Request, token: str | None) -> None:
    if token is None:
        raise ApiError(403, "write endpoints are off: no [http] token is configured")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        log.warning("api_unauthorized", path=request.path, remote=request.remote, reason="no token")
        raise ApiError(
            401, "a bearer token is required (Authorization: Bearer <token>)", headers=_CHALLENGE
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        log.warning(
            "api_unauthorized", path=request.path, remote=request.remote, reason="wrong token"
        )
        raise ApiError(401, "the bearer token is wrong", headers=_CHALLENGE)
