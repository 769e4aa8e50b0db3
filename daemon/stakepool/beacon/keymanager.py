"""A validator client's standard Keymanager API, read only: which validator keys does it hold?

``GET /eth/v1/keystores`` (local keys) and ``GET /eth/v1/remotekeys`` (keys behind a remote
signer), both behind the client's bearer token. The token is asked for on every poll (a client
may write a new token file when it restarts). A client that has no remote-keys route (404/405)
simply holds no remote keys. Anything else that is not a well-formed answer is a
``KeymanagerError``: the caller keeps what it knew.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp

_PUBKEY = re.compile(r"^0x[0-9a-f]{96}$")
MAX_RESPONSE_BYTES = 32 * 2**20
MAX_KEYS = 1_000_000
"""More keys than any validator client runs: an answer above it is not believed."""


class KeymanagerError(Exception):
    """The keymanager could not be asked, or its answer is not the standard shape."""


class KeymanagerClient:
    def __init__(
        self,
        url: str,
        token: Callable[[], str],
        *,
        timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def keys(self) -> frozenset[str]:
        """Every validating pubkey it holds, local and remote (lower-case, ``0x``-prefixed)."""
        local = await self._list("/eth/v1/keystores", "validating_pubkey", optional=False)
        remote = await self._list("/eth/v1/remotekeys", "pubkey", optional=True)
        return local | remote

    async def _list(self, path: str, field: str, *, optional: bool) -> frozenset[str]:
        try:
            token = self._token()
        except OSError as exc:
            raise KeymanagerError(f"cannot read the bearer token: {exc}") from exc
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.get(
                self.url + path, headers=headers, timeout=self._timeout
            ) as answer:
                if optional and answer.status in (404, 405):
                    return frozenset()
                if answer.status != 200:
                    raise KeymanagerError(f"{path}: HTTP {answer.status}")
                length = answer.content_length
                if length is not None and length > MAX_RESPONSE_BYTES:
                    raise KeymanagerError(f"{path}: answer of {length} bytes is too large")
                raw = await answer.content.read(MAX_RESPONSE_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KeymanagerError(f"{path}: {type(exc).__name__}: {exc}") from exc
        if len(raw) > MAX_RESPONSE_BYTES:
            raise KeymanagerError(f"{path}: answer too large")
        return _pubkeys(path, raw, field)


def _pubkeys(path: str, raw: bytes, field: str) -> frozenset[str]:
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:
        raise KeymanagerError(f"{path}: not JSON: {exc}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or len(data) > MAX_KEYS:
        raise KeymanagerError(f"{path}: 'data' must be an array of at most {MAX_KEYS} keys")
    keys: set[str] = set()
    for entry in data:
        key = entry.get(field) if isinstance(entry, dict) else None
        if not isinstance(key, str) or not _PUBKEY.match(key.lower()):
            raise KeymanagerError(f"{path}: {field!r} is not a BLS pubkey: {str(key)[:40]!r}")
        keys.add(key.lower())
    return frozenset(keys)
