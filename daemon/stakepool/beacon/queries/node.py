"""``client.node``: what a beacon node says about itself and its chain's configuration.

Genesis, the ``config/spec`` map (and ``SLOTS_PER_EPOCH`` from it, asked once and shared with
the parts that need it), sync status, version and ``node/health``. ``syncing``, ``version`` and
``health`` can be aimed at one node (``node=`` its URL), for per-node readiness checks.
"""

from __future__ import annotations

from typing import Any

from stakepool.beacon import routes
from stakepool.beacon.errors import NotFound, NotReady
from stakepool.beacon.models import Envelope, Genesis, Readiness, Syncing, Version
from stakepool.beacon.requester import Requester
from stakepool.beacon.transport import HttpAnswer


class NodeQueries:
    def __init__(self, requester: Requester) -> None:
        self._req = requester
        self._slots_per_epoch: int | None = None

    async def genesis(self) -> Genesis:
        try:
            env: Envelope[Genesis] = await self._req.get(routes.GENESIS, Envelope[Genesis])
        except NotFound as exc:  # "Chain genesis info is not yet known"
            raise NotReady(routes.GENESIS.name, exc.message, node=exc.node) from exc
        return env.data

    async def spec(self) -> dict[str, Any]:
        """The flat ``config/spec`` map, values raw (``chain.spec.ChainSpec.from_api`` reads it)."""
        env: Envelope[dict[str, Any]] = await self._req.get(routes.SPEC, Envelope[dict[str, Any]])
        return env.data

    async def slots_per_epoch(self) -> int:
        """The spec's ``SLOTS_PER_EPOCH`` (asked once)."""
        if self._slots_per_epoch is None:
            spec = await self.spec()
            self._slots_per_epoch = int(str(spec["SLOTS_PER_EPOCH"]))
        return self._slots_per_epoch

    async def syncing(self, *, node: str | None = None) -> Syncing:
        env: Envelope[Syncing] = await self._req.get(routes.SYNCING, Envelope[Syncing], node=node)
        return env.data

    async def version(self, *, node: str | None = None) -> Version:
        env: Envelope[Version] = await self._req.get(routes.VERSION, Envelope[Version], node=node)
        return env.data

    async def health(self, *, node: str | None = None) -> Readiness:
        """``node/health`` of ``node`` (default: the first usable node): a status code only."""
        pool = self._req.pool
        target = node or pool.candidates(routes.HEALTH)[0][0].url

        def parse(answer: HttpAnswer, _node: str) -> Readiness:
            return Readiness.SYNCING if answer.status == 206 else Readiness.READY

        try:
            return await pool.call(routes.HEALTH, parse, node=target)
        except NotReady:
            return Readiness.NOT_READY
