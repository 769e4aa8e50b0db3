"""The read-only web page (``/``, ``/delegators/{id}``): see docs/web.md and ``app.WebFace``."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from stakepool.beacon.client import BeaconClient
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings
from stakepool.ledger.store.interface import LedgerStore
from stakepool.publish.web.app import WebFace
from stakepool.publish.web.duties import DutyHistory
from stakepool.publish.web.network import NetworkView


def mount_web(
    app: web.Application,
    settings: Settings,
    store: LedgerStore,
    bus: EventBus,
    *,
    client: BeaconClient | None,
    spec: Callable[[], ChainSpec | None],
    pool: Callable[[], frozenset[int]],
) -> WebFace | None:
    """Adds the pages to ``app`` when ``[web]`` enables them; ``None`` (nothing mounted) otherwise."""
    if not settings.web.is_enabled(settings.http.host):
        return None
    duties = DutyHistory(settings.ledger.statement_period_epochs)
    duties.subscribe(bus)
    network = NetworkView(client, spec, pool, refresh_seconds=settings.web.network_refresh_seconds)
    face = WebFace(
        store,
        pool_id=settings.pool.id,
        policy=settings.pool.policy(),
        notice_period_epochs=settings.web.notice_period_epochs,
        delegator_pages=settings.web.delegator_pages,
        duties=duties,
        network=network,
    )
    face.add_to(app)

    async def close(_app: web.Application) -> None:
        await network.close()

    app.on_cleanup.append(close)
    return face


__all__ = ["DutyHistory", "NetworkView", "WebFace", "mount_web"]
