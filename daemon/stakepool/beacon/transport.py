"""One beacon node over HTTP: an aiohttp session, timeouts, and retries with backoff and jitter.

Retried on the same node: connection errors, timeouts, 429 (honouring ``Retry-After``), 500, 502
and 504, all within one budget per request on this node: the caller's ``request_timeout`` (the few
heavy reads pass theirs), else ``deadline`` once the chain's slot is known (a fraction of a slot:
a node that accepts TCP and never answers costs that, not ``timeout`` × attempts). A health probe
that finds the node hung calls ``abandon()``: requests waiting on it end at once as timeouts, so
the caller fails over instead of waiting out a heavy read's budget. Never retried: 4xx (the answer will not change) and 503 (a syncing node stays syncing for
longer than a retry; the caller fails over instead). Every POST sends a JSON body, because several
clients answer 400 to a missing one even where the spec makes it optional.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.health import HealthTracker
from stakepool.beacon.routes import Route
from stakepool.chain.redact import authorization, split_userinfo

DEFAULT_MAX_RESPONSE_BYTES = 1 << 30
"""A bound on memory: the whole mainnet registry's validators is ~1 GB of JSON, and we never ask
for it (our validators only)."""
RETRY_STATUSES = frozenset({429, 500, 502, 504})
JSON_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
Query = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What the node said: status, decoded JSON (None if empty or not JSON), and the raw text."""

    status: int
    body: Any
    text: str
    headers: Mapping[str, str]
    """Lower-case names."""
    is_json: bool
    oversize: bool = False
    """The body was larger than the transport's cap and was not read."""
    raw: bytes | None = None
    """The undecoded body of a success on a ``typed`` route (``body`` is then None): its parser
    decodes it once, straight into the shape the caller needs."""


class TransportError(Exception):
    """The node could not be reached or did not answer in time (after retries)."""


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_JSON: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def _decode(raw: bytes) -> tuple[Any, bool]:
    # msgspec: about twice as fast as json.loads into the same Python objects. Stricter too
    # (NaN, lone surrogates): neither is valid JSON, and no Beacon API answer carries them.
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if not raw.strip():
        return None, False
    try:
        return _JSON.decode(raw), True
    except msgspec.DecodeError:
        return None, False


class NodeTransport:
    def __init__(
        self,
        url: str,
        health: HealthTracker,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        retries: int = 3,
        retry_backoff: Backoff | None = None,
        max_retry_after: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        auth: str | None = None,
    ) -> None:
        clean, url_auth = split_userinfo(url.rstrip("/"))
        self.url = clean
        auth = url_auth or auth
        self._headers = dict(JSON_HEADERS)
        if auth:
            self._headers["Authorization"] = authorization(auth)
        self.health = health
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.retry_backoff = retry_backoff or Backoff(base=0.25, maximum=5.0)
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        self.deadline: float | None = None
        """Budget of an ordinary request on this node, retries included (None: per attempt only,
        before the chain's slot duration is known)."""
        self._budgets: set[asyncio.Timeout] = set()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop, not the one that built the client.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def abandon(self) -> int:
        """End every request now waiting on this node as a timeout; how many there were."""
        budgets = list(self._budgets)
        if budgets:
            now = asyncio.get_running_loop().time()
            for budget in budgets:
                # One whose time just ran out is ending already (rescheduling it would raise
                # "Cannot change state of expiring Timeout", and that ended the daemon).
                if not budget.expired():
                    budget.reschedule(now)
        return len(budgets)

    async def request(
        self,
        route: Route,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        request_timeout: float | None = None,
        retries: int | None = None,
    ) -> HttpAnswer:
        budget = request_timeout or self.deadline
        try:
            async with asyncio.timeout(budget) as scope:
                self._budgets.add(scope)
                try:
                    return await self._attempts(
                        route,
                        path,
                        query=query,
                        body=body,
                        attempt_timeout=request_timeout or self.timeout,
                        retries=retries,
                    )
                finally:
                    self._budgets.discard(scope)
        except TimeoutError as exc:  # the budget ran out (or a probe found the node hung)
            self.health.observe(route.label, budget or 0.0, error=True)
            within = "" if budget is None else f" within {budget:g} s"
            raise TransportError(f"timeout: no answer{within}") from exc

    async def _attempts(
        self,
        route: Route,
        path: str,
        *,
        query: Query | None,
        body: Any,
        attempt_timeout: float,
        retries: int | None,
    ) -> HttpAnswer:
        attempts = 1 + (self.retries if retries is None else retries)
        client_timeout = aiohttp.ClientTimeout(
            total=attempt_timeout,
            connect=self.connect_timeout,
            sock_connect=self.connect_timeout,
        )
        data: bytes | None = None
        headers: dict[str, str] = {}
        if route.method == "POST":
            data = msgspec.json.encode([] if body is None else body)
            headers["Content-Type"] = "application/json"
        url = self.url + path
        last_error = "no attempt"
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                async with self.session().request(
                    route.method,
                    url,
                    params=list(query or ()),
                    data=data,
                    headers=headers,
                    timeout=client_timeout,
                    allow_redirects=False,
                ) as resp:
                    raw = await _read_capped(resp, self.max_response_bytes)
                    status = resp.status
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            except (aiohttp.ClientError, OSError) as exc:  # OSError covers TimeoutError
                self.health.observe(route.label, time.monotonic() - started, error=True)
                last_error = _describe(exc)
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.retry_backoff.delay(attempt))
                    continue
                raise TransportError(last_error) from exc
            retryable = status in RETRY_STATUSES
            self.health.observe(route.label, time.monotonic() - started, error=status >= 500)
            if retryable and attempt + 1 < attempts:
                delay = self.retry_backoff.delay(attempt)
                if status == 429:
                    hint = retry_after_seconds(resp_headers.get("retry-after"))
                    if hint is not None:
                        delay = max(delay, min(hint, self.max_retry_after))
                await asyncio.sleep(delay)
                continue
            if raw is None:
                return HttpAnswer(status, None, "", resp_headers, False, oversize=True)
            if route.typed and 200 <= status < 300:
                return HttpAnswer(
                    status=status,
                    body=None,
                    text=raw[:2000].decode("utf-8", errors="replace"),
                    headers=resp_headers,
                    is_json=True,
                    raw=raw.removeprefix(codecs.BOM_UTF8),
                )
            decoded, is_json = _decode(raw)
            return HttpAnswer(
                status=status,
                body=decoded,
                text=raw[:2000].decode("utf-8", errors="replace"),
                headers=resp_headers,
                is_json=is_json,
            )
        raise TransportError(last_error)  # pragma: no cover - the loop always returns or raises

    @contextlib.asynccontextmanager
    async def open_stream(
        self,
        path: str,
        query: Query,
        *,
        first_byte_timeout: float,
        read_timeout: float,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """An SSE response whose headers arrived within ``first_byte_timeout``.

        Yields the ``aiohttp.ClientResponse``; raises ``TimeoutError`` if the node sent nothing in
        time (Lodestar never answers a subscription with an unknown topic).
        """
        client_timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_read=read_timeout
        )
        async with asyncio.timeout(first_byte_timeout):
            resp = await self.session().get(
                self.url + path,
                params=list(query),
                headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
                timeout=client_timeout,
                allow_redirects=False,
            )
        try:
            yield resp
        finally:
            resp.release()
            resp.close()


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The body, or None if it is larger than ``cap`` bytes (the rest is not read)."""
    if resp.content_length is not None and resp.content_length > cap:
        return None
    body = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 20):
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
