"""Which event topics each node streams: its refusals, remembered, and probing topics one by one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import aiohttp
import structlog

from stakepool.beacon import routes
from stakepool.beacon.models import Topic
from stakepool.beacon.status import error_message, is_missing_route
from stakepool.beacon.transport import HttpAnswer, NodeTransport

log = structlog.get_logger(__name__)

ProbeResult = Literal["ok", "refused", "silent", "error"]


class Refused(Exception):
    """A subscription the node refused (its status, message, and whether the route is missing)."""

    def __init__(self, status: int, message: str, missing_route: bool) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.missing_route = missing_route


class TopicBook:
    """Per node: the topics it refused, forgotten after ``retry_interval`` (it may be upgraded)."""

    def __init__(
        self, retry_interval: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry_interval = retry_interval
        self._monotonic = monotonic
        self._rejected: dict[str, tuple[float, frozenset[Topic]]] = {}
        self._verified_at: dict[str, float] = {}

    def rejected(self, node: str | None) -> frozenset[Topic]:
        entry = self._rejected.get(node or "")
        if entry and self._monotonic() - entry[0] >= self.retry_interval:
            del self._rejected[node or ""]
            return frozenset()
        return entry[1] if entry else frozenset()

    def usable(self, node: str, topics: Sequence[Topic]) -> tuple[Topic, ...]:
        refused = self.rejected(node)
        return tuple(t for t in topics if t not in refused)

    def reject(self, node: str, topics: Iterable[Topic]) -> None:
        merged = self.rejected(node) | frozenset(topics)
        self._rejected[node] = (self._monotonic(), merged)
        log.warning("event_topics_unavailable", node=node, topics=sorted(t.value for t in merged))

    def verification_due(self, node: str) -> bool:
        """True once per node and ``retry_interval``: time to check each topic on its own."""
        last = self._verified_at.get(node)
        if last is not None and self._monotonic() - last < self.retry_interval:
            return False
        self._verified_at[node] = self._monotonic()
        return True


def refused(topics: Sequence[Topic], results: Sequence[ProbeResult]) -> list[Topic]:
    return [t for t, r in zip(topics, results, strict=True) if r in ("refused", "silent")]


async def probe_topic(
    transport: NodeTransport, topic: Topic, *, first_byte_timeout: float, read_timeout: float
) -> ProbeResult:
    """Subscribe to ``topic`` and hang up as soon as the node has answered (or not).

    ``head`` rides along (after the probed topic): a node may hold back its status line until the
    first event (stock Lodestar v1.5.1 does), and a quiet topic such as ``chain_reorg`` alone would
    then look exactly like a refused one. ``head`` fires every slot, so silence now means refusal.
    The probed topic goes first because a node that checks topics lazily stops at the first
    unknown one (Lodestar answers 200 and streams the rest when the unknown topic comes later).
    """
    query = [("topics", topic.value)]
    if topic is not Topic.HEAD:
        query.append(("topics", Topic.HEAD.value))
    try:
        async with transport.open_stream(
            routes.EVENTS.path(),
            query,
            first_byte_timeout=first_byte_timeout,
            read_timeout=read_timeout,
        ) as resp:
            return "ok" if resp.status == 200 else "refused"
    except TimeoutError:
        return "silent"
    except aiohttp.ClientError:
        return "error"


def refusal(status: int, raw: bytes) -> tuple[str, bool]:
    """The node's message for a refused subscription, and whether it lacks the route entirely."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    answer = HttpAnswer(status, body, raw[:2000].decode("utf-8", "replace"), {}, body is not None)
    missing = status in (405, 501) or (status == 404 and is_missing_route(answer))
    return error_message(answer), missing
