"""The bearer token that guards the write endpoints.

No token configured → writes are off (403, whatever the request carries): an operator who never
set a credential cannot be written to by accident. A missing or wrong token → 401 with
``WWW-Authenticate: Bearer``. The comparison is constant-time (``hmac.compare_digest`` on bytes),
so response timing does not reveal how much of a guess was right. A blank credential (an empty
file) is no token at all: writes stay off, never open to an empty ``Bearer``. The header is
compared as the bytes that arrived (aiohttp keeps undecodable bytes as surrogates), so non-ASCII
or invalid UTF-8 in ``Authorization`` is a wrong token (401), never an encoding error (500).
"""

from __future__ import annotations

import hmac

import structlog
from aiohttp import web
from pydantic import SecretStr

from stakepool.publish.api.errors import ApiError

log = structlog.get_logger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="stakepool"'}


def writer_token(token: SecretStr | str | None) -> str | None:
    """The configured token, or ``None`` (writes off) when it is unset or blank."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    # An HTTP header value cannot carry surrounding whitespace, so neither may the token.
    return (secret or "").strip() or None


def bearer_matches(header: str, token: str) -> bool:
    """Whether ``Authorization: <header>`` carries ``token``, compared in constant time."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given_bytes, token.encode("utf-8"))


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
    if not bearer_matches(header, token):
        log.warning(
            "api_unauthorized", path=request.path, remote=request.remote, reason="wrong token"
        )
        raise ApiError(401, "the bearer token is wrong", headers=_CHALLENGE)
