"""The request plumbing shared by the query classes: typed GET/POST over the pool, batching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from stakepool.beacon.batching import chunks, merge_envelopes
from stakepool.beacon.errors import InconsistentAnswer, NotFound, Unsupported
from stakepool.beacon.failover import NodePool
from stakepool.beacon.models import Envelope
from stakepool.beacon.parsing import envelope_parser
from stakepool.beacon.routes import Route
from stakepool.beacon.transport import Query

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=Envelope[Any])
Chunked = Envelope[tuple[T, ...]]


async def none_if_not_found(call: Awaitable[R]) -> R | None:
    try:
        return await call
    except NotFound:
        return None


class Requester:
    def __init__(self, pool: NodePool, *, batch_size: int, get_batch_size: int) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.get_batch_size = get_batch_size

    async def _get(
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

    async def _post(
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

    async def _batched(
        self,
        ids: Sequence[str],
        size: int,
        fetch: Callable[[list[str]], Awaitable[Chunked[T]]],
    ) -> Chunked[T]:
        # Chunks go one after another: gentle on the node, and a failure stops the rest early.
        parts = [await fetch(list(chunk)) for chunk in chunks(ids, size)]
        try:
            return merge_envelopes(parts)
        except InconsistentAnswer:  # the chunks straddled a reorg: ask once more
            return merge_envelopes([await fetch(list(chunk)) for chunk in chunks(ids, size)])

    async def _post_or_get(
        self,
        ids: Sequence[str],
        post: Callable[[list[str]], Awaitable[Chunked[T]]],
        get: Callable[[list[str]], Awaitable[Chunked[T]]],
    ) -> Chunked[T]:
        """POST in ``batch_size`` chunks; where no node has the POST route, GET ``id=``×64."""
        if not ids:
            return self.empty()
        try:
            return await self._batched(ids, self.batch_size, post)
        except Unsupported:
            return await self._batched(ids, self.get_batch_size, get)

    @staticmethod
    def empty() -> Chunked[Any]:
        return merge_envelopes([])
