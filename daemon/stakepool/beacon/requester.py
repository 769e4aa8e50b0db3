"""The request plumbing every query part holds (composed, not inherited): typed GET/POST over the
node pool, the batch sizes, chunked requests and the bulk timeout default."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from stakepool.beacon.batching import chunks, merge_envelopes
from stakepool.beacon.errors import InconsistentAnswer, NotFound, Unsupported
from stakepool.beacon.failover import NodePool, Parser
from stakepool.beacon.models import Envelope
from stakepool.beacon.parsing import envelope_parser
from stakepool.beacon.routes import Route
from stakepool.beacon.transport import Query

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=Envelope[Any])
Chunked = Envelope[tuple[T, ...]]
StateId = str | int
BlockId = str | int


async def none_if_not_found(call: Awaitable[R]) -> R | None:
    try:
        return await call
    except NotFound:
        return None


class Requester:
    """``batch_size`` ids per POST, ``get_batch_size`` per GET fallback; ``bulk_timeout`` for
    requests that read many validators (``bulk`` picks it unless the caller gave one)."""

    def __init__(
        self, pool: NodePool, *, batch_size: int, get_batch_size: int, bulk_timeout: float
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.get_batch_size = get_batch_size
        self.bulk_timeout = bulk_timeout

    def bulk(self, request_timeout: float | None) -> float:
        return request_timeout or self.bulk_timeout

    async def get(
        self,
        route: Route,
        model: type[E],
        *,
        params: dict[str, object] | None = None,
        query: Query | None = None,
        request_timeout: float | None = None,
        node: str | None = None,
    ) -> E:
        return await self.pool.call(
            route,
            envelope_parser(route, model),
            params=params,
            query=query,
            request_timeout=request_timeout,
            node=node,
        )

    async def post(
        self,
        route: Route,
        model: type[E],
        body: Any,
        *,
        params: dict[str, object] | None = None,
        request_timeout: float | None = None,
    ) -> E:
        return await self.pool.call(
            route,
            envelope_parser(route, model),
            params=params,
            body=body,
            request_timeout=request_timeout,
        )

    async def parsed(
        self,
        route: Route,
        parse: Parser[R],
        *,
        params: dict[str, object] | None = None,
        query: Query | None = None,
        body: Any = None,
        request_timeout: float | None = None,
    ) -> R:
        """A request whose answer ``parse`` decodes itself (the ``typed`` routes' columns)."""
        return await self.pool.call(
            route, parse, params=params, query=query, body=body, request_timeout=request_timeout
        )

    async def batched(
        self,
        ids: Sequence[str],
        size: int,
        fetch: Callable[[list[str]], Awaitable[Chunked[T]]],
    ) -> Chunked[T]:
        return await self.batched_with(ids, size, fetch, merge_envelopes)

    async def batched_with(
        self,
        ids: Sequence[str],
        size: int,
        fetch: Callable[[list[str]], Awaitable[R]],
        merge: Callable[[Sequence[R]], R],
    ) -> R:
        """``merge`` of the chunks' answers (it raises ``InconsistentAnswer`` across a reorg)."""
        # Chunks go one after another: gentle on the node, and a failure stops the rest early.
        # Each chunk's answer is decoded before the next is asked for, so a big pool's read is
        # many short stretches on the event loop, never one long one.
        parts = [await fetch(list(chunk)) for chunk in chunks(ids, size)]
        try:
            return merge(parts)
        except InconsistentAnswer:  # the chunks straddled a reorg: ask once more
            return merge([await fetch(list(chunk)) for chunk in chunks(ids, size)])

    async def post_or_get(
        self,
        ids: Sequence[str],
        post: Callable[[list[str]], Awaitable[Chunked[T]]],
        get: Callable[[list[str]], Awaitable[Chunked[T]]],
    ) -> Chunked[T]:
        """POST in ``batch_size`` chunks; where no node has the POST route, GET ``id=``×64."""
        if not ids:
            return self.empty()
        return await self.post_or_get_with(ids, post, get, merge_envelopes)

    async def post_or_get_with(
        self,
        ids: Sequence[str],
        post: Callable[[list[str]], Awaitable[R]],
        get: Callable[[list[str]], Awaitable[R]],
        merge: Callable[[Sequence[R]], R],
    ) -> R:
        """``post_or_get`` for any answer ``merge`` can join (``ids`` not empty)."""
        try:
            return await self.batched_with(ids, self.batch_size, post, merge)
        except Unsupported:
            return await self.batched_with(ids, self.get_batch_size, get, merge)

    @staticmethod
    def empty() -> Chunked[Any]:
        return merge_envelopes([])
