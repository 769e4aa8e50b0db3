"""A hostile beacon node: a loopback HTTP proxy in front of the simulator that corrupts, stalls or
hangs on purpose.

Every answer passes through ``FaultyNode``; with ``corrupt_share`` > 0 a seeded draw picks a share
of them and spoils each with one fault from ``FAULTS`` (truncated JSON, wrong types, huge and
negative numbers, missing fields, a 10 MB body, a slow drip, a 5xx, an HTML error page, a lying
genesis). ``stall()`` makes it a hung node: connections accepted, nothing answered, event streams
silent, until ``release()`` (then it catches up, like a node back from a stall). ``corrupted`` counts the spoiled answers per
fault. The event stream (``/eth/v1/events``) is passed through as it streams, never corrupted: a
node's SSE either works or the daemon polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

FAULTS = (
    "truncated",
    "wrong_type",
    "huge_number",
    "negative_number",
    "missing_field",
    "ten_megabytes",
    "slow_drip",
    "server_error",
    "html_page",
    "lying_genesis",
)
LIE_ROOT = "0x" + "be" * 32
"""The genesis_validators_root a lying node claims (the simulator's is another)."""
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _mutate_json(doc: Any, rng: random.Random, fault: str) -> bool:
    """Spoil one value of ``doc`` in place; False when it holds nothing that fault can spoil."""
    spots: list[tuple[dict[str, Any] | list[Any], Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                spots.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for i, value in enumerate(node[:64]):  # the first items suffice; lists can be long
                spots.append((node, i))
                walk(value)

    walk(doc)
    if fault in ("huge_number", "negative_number"):
        # Beacon API integers travel as decimal strings.
        spots = [(c, k) for c, k in spots if isinstance(c[k], str) and c[k].isdecimal()]
    elif fault == "missing_field":
        spots = [(c, k) for c, k in spots if isinstance(c, dict)]
    if not spots:
        return False
    container, key = rng.choice(spots)
    if fault == "huge_number":
        container[key] = rng.choice([str(2**64), str(2**64 - 1), str(2**256), "9" * 5000])
    elif fault == "negative_number":
        container[key] = rng.choice(["-1", "-18446744073709551615"])
    elif fault == "missing_field":
        del container[key]
    else:  # wrong_type: a value of another JSON type than the one it replaces (an empty list
        # for a list is no wrong type but a plausible lie, which no single node's answer reveals)
        was = type(container[key])
        values: tuple[object, ...] = (None, True, [], {}, 1.5, "not a number", 7)
        container[key] = rng.choice([v for v in values if type(v) is not was])
    return True


class FaultyNode:
    def __init__(self, upstream: str, *, seed: int, corrupt_share: float = 0.0) -> None:
        self.upstream = upstream
        self.corrupt_share = corrupt_share
        self.faults: tuple[str, ...] = FAULTS
        self.rng = random.Random(seed)
        self._round: list[str] = []
        self.answers = 0
        self.corrupted: Counter[str] = Counter()
        self.port = 0
        self._held: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.only: Callable[[str], bool] = lambda _path: True
        """Which paths may be corrupted (all by default)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> FaultyNode:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def stall(self) -> None:
        """From now on the node accepts connections and reads requests but answers nothing, and
        its open event streams go silent (no keep-alives either), until ``release``: a hung node,
        or with a ``release`` a while later, a node that stalled and caught up."""
        if self._held is None:
            self._held = asyncio.Event()

    def release(self) -> None:
        if self._held is not None:
            self._held.set()
            self._held = None

    @property
    def stalled(self) -> bool:
        return self._held is not None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if self._held is not None:
            await self._held.wait()
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        try:
            return await self._relay(request, body, headers)
        except aiohttp.ClientError as exc:  # the simulator is not up yet, or went away
            return web.json_response({"code": 502, "message": str(exc)}, status=502)

    async def _relay(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self._session is not None
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body or None, headers=headers
        ) as upstream:
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
            }
            if request.path == "/eth/v1/events":
                return await self._stream(request, upstream, out_headers)
            raw = await upstream.read()
            if self._held is not None:  # it stalled while this request was on its way
                await self._held.wait()
            self.answers += 1
            fault = self._draw(request.path)
            if fault is None:
                return web.Response(status=upstream.status, body=raw, headers=out_headers)
            self.corrupted[fault] += 1
            return await self._spoil(request, upstream.status, raw, out_headers, fault)

    async def _stream(
        self, request: web.Request, upstream: aiohttp.ClientResponse, headers: dict[str, str]
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, headers=headers)
        await response.prepare(request)
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            async for chunk in upstream.content.iter_any():
                if self._held is not None:
                    await self._held.wait()
                await response.write(chunk)
        return response

    def _draw(self, path: str) -> str | None:
        if self.corrupt_share <= 0 or not self.only(path):
            return None
        if self.rng.random() >= self.corrupt_share:
            return None
        if not self._round:  # every kind once per round, in a seeded order: all are served
            self._round = self.rng.sample(self.faults, len(self.faults))
        fault = self._round.pop()
        if fault == "lying_genesis" and path != "/eth/v1/beacon/genesis":
            return "wrong_type"  # only the genesis answer has a root to lie about
        return fault

    async def _spoil(
        self,
        request: web.Request,
        status: int,
        raw: bytes,
        headers: dict[str, str],
        fault: str,
    ) -> web.StreamResponse:
        rng = self.rng
        if fault == "server_error":
            return web.json_response(
                {"code": 503, "message": "Beacon node is currently syncing"},
                status=rng.choice([500, 502, 503]),
            )
        if fault == "html_page":
            page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return web.Response(status=rng.choice([200, 502]), text=page, content_type="text/html")
        if fault == "truncated":
            return web.Response(status=status, body=raw[: rng.randrange(max(1, len(raw)))],
                                headers=headers)  # fmt: skip
        if fault == "ten_megabytes":
            # Valid JSON, ten megabytes of it: the daemon must bound what it reads.
            pad = json.dumps({"data": ["0" * 1024] * (10 * 1024)})
            return web.Response(status=status, text=pad, content_type="application/json")
        if fault == "slow_drip":
            response = web.StreamResponse(status=status, headers=headers)
            await response.prepare(request)
            step = max(1, len(raw) // 20)
            with contextlib.suppress(ConnectionError):
                for i in range(0, len(raw), step):  # bounded: 20 pieces, ~3 s in all
                    await response.write(raw[i : i + step])
                    await asyncio.sleep(0.15)
                await response.write_eof()
            return response
        try:
            doc = json.loads(raw)
        except ValueError:
            return web.Response(status=status, body=raw, headers=headers)
        data = doc.get("data") if isinstance(doc, dict) else None
        if (
            fault == "lying_genesis"
            and isinstance(data, dict)
            and "genesis_validators_root" in data
        ):
            data["genesis_validators_root"] = LIE_ROOT
        else:
            _mutate_json(doc, rng, fault)
        return web.Response(status=status, text=json.dumps(doc), content_type="application/json")
