"""``GET /eth/v1/events``: the SSE stream, fed by the chain's listener callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from stakepool.sim.faults import Faults
from stakepool.sim.web_common import error, query_list

TOPICS = frozenset(
    {
        "head",
        "block",
        "finalized_checkpoint",
        "chain_reorg",
        "attester_slashing",
        "proposer_slashing",
        "voluntary_exit",
        "bls_to_execution_change",
    }
)


@dataclass(eq=False)
class _Subscriber:
    topics: frozenset[str]
    requested: tuple[str, ...] = ()
    """The topics as the client listed them (unknown ones too, with ``sse_lax_topics``)."""
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)


class EventHub:
    """Fan-out of chain events to the open streams of one server."""

    def __init__(self, faults: Faults, keepalive_seconds: float) -> None:
        self.faults = faults
        self.keepalive_seconds = keepalive_seconds
        self._subscribers: set[_Subscriber] = set()

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    @property
    def open_subscriptions(self) -> list[tuple[str, ...]]:
        """The topics each open stream asked for, as listed."""
        return [sub.requested for sub in self._subscribers]

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        for sub in self._subscribers:
            if topic in sub.topics:
                sub.queue.put_nowait((topic, data))

    def drop_all(self) -> None:
        for sub in self._subscribers:
            sub.queue.put_nowait(None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.sse_unavailable:
            return error(503, "Event stream unavailable")
        topics = query_list(request, "topics")
        if not topics:
            return error(400, "Missing topics")
        unknown = self.faults.sse_unknown_topics
        for i, topic in enumerate(topics):
            if topic in TOPICS and topic not in unknown:
                continue
            if not self.faults.sse_lax_topics:
                return error(400, f"Invalid topic: {topic}")
            if i == 0:
                await _hang(request)  # no status line, ever: the client must time out
                return web.Response(status=204)
        known = frozenset(t for t in topics if t in TOPICS and t not in unknown)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        if not self.faults.sse_lazy_headers:
            await response.prepare(request)
        sub = _Subscriber(known, tuple(topics))
        self._subscribers.add(sub)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), self.keepalive_seconds)
                except TimeoutError:
                    if not self.faults.sse_silent and response.prepared:
                        await response.write(b":\n\n")
                    continue
                if item is None:
                    break
                if self.faults.sse_silent:
                    continue
                topic, data = item
                frame = f"event: {topic}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
                if not response.prepared:
                    await response.prepare(request)
                await response.write(frame.encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._subscribers.discard(sub)
        if not response.prepared:
            return web.Response(status=204)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response


async def _hang(request: web.Request) -> None:
    """Until the client hangs up (or the server stops)."""
    # aiohttp signals no disconnect to wait on: look at the transport now and then.
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
