"""The health probe: every node is asked ``/eth/v1/node/syncing`` once per interval, with a short
deadline and no retry, whether or not requests are flowing to it.

Without it a node that accepts TCP and never answers is noticed only when a request to it has
spent all its attempts (minutes for a heavy read), and ``/readyz`` and ``stakepool_beacon_up`` keep
saying it is fine meanwhile. A probe that gets no answer marks the node down (one log line, the
sticky offline window: requests go to the other nodes) and abandons the requests waiting on it,
which fail over at once; the first answer marks it up again (one log line).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from stakepool.beacon import routes
from stakepool.beacon.failover import Node
from stakepool.beacon.transport import TransportError

log = structlog.get_logger(__name__)


class HealthProbe:
    def __init__(self, nodes: Sequence[Node], *, interval: float, deadline: float) -> None:
        if interval <= 0 or deadline <= 0:
            raise ValueError("probe interval and deadline must be positive")
        self.nodes = nodes
        self.interval = interval
        self.deadline = deadline

    async def run(self) -> None:
        """Probe every usable node each ``interval`` until cancelled."""
        while True:
            await self.round()
            await asyncio.sleep(self.interval)

    async def round(self) -> None:
        # Together: one hung node must not delay the verdict on the others.
        await asyncio.gather(*(self.probe(n) for n in self.nodes if n.health.excluded is None))

    async def probe(self, node: Node) -> bool:
        """True if the node answered: any HTTP status says it is alive (if perhaps not useful;
        the requests' own answers keep the score)."""
        try:
            await node.transport.request(
                routes.SYNCING,
                routes.SYNCING.path(),
                request_timeout=self.deadline,
                retries=0,
            )
        except TransportError as exc:
            node.health.unreachable(f"health probe: {exc}")
            abandoned = node.transport.abandon()
            if abandoned:
                log.info("beacon_requests_abandoned", node=node.url, requests=abandoned)
            return False
        node.health.alive()
        return True
