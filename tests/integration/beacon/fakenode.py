"""A scriptable fake beacon node: an ``aiohttp.web`` server on 127.0.0.1 with a free port.

Routes are registered per (method, path) with a list of answers, played in order (the last one
repeats); unregistered routes get aiohttp's own plain-text 404, like a node lacking the route.
Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


class FakeNode:
    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.routes: dict[tuple[str, str], list[Reply | Handler]] = {}
        self.seen: list[Seen] = []
        self.server: TestServer | None = None
        self.stopping = asyncio.Event()
        """Set on stop: handlers that hang (a node that never answers) wait on it."""

    def on(self, method: str, path: str, *replies: Reply | Handler) -> FakeNode:
        self.routes[(method, path)] = list(replies)
        return self

    def ok(self, method: str, path: str, body: Any, **headers: str) -> FakeNode:
        return self.on(method, path, Reply(200, body, dict(headers)))

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> FakeNode:
        self.server = TestServer(self.app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            await self.server.close()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.seen.append(
            Seen(
                request.method,
                request.path,
                list(request.query.items()),
                body,
                dict(request.headers),
            )
        )
        replies = self.routes.get((request.method, request.path))
        if not replies:
            raise web.HTTPNotFound()
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if not isinstance(reply, Reply):
            return await reply(request)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(status=reply.status, body=reply.raw, headers=reply.headers)
        if reply.body is None:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)


def error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, {"code": status, "message": message, "stacktraces": []}, dict(headers))


async def sse(
    request: web.Request,
    node: FakeNode,
    events: list[tuple[str, Any]],
    *,
    hold: bool = True,
    comment: bool = True,
) -> web.StreamResponse:
    """Answer a subscription with ``events`` (topic, payload), then hold the stream or close it."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    if comment:
        await resp.write(b": keep-alive\n\n")
    for topic, payload in events:
        await resp.write(f"event: {topic}\ndata: {json.dumps(payload)}\n\n".encode())
    if hold:
        await node.stopping.wait()
    return resp
