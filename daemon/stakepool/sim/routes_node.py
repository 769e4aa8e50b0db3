"""Genesis, config and node routes."""

from __future__ import annotations

from aiohttp import web

from stakepool import __version__
from stakepool.sim.web_common import chain_of, ok


async def genesis(request: web.Request) -> web.Response:
    chain = chain_of(request)
    return ok(
        {
            "data": {
                "genesis_time": str(chain.genesis_time),
                "genesis_validators_root": chain.genesis_validators_root,
                "genesis_fork_version": chain.genesis_fork_version,
            }
        }
    )


async def spec(request: web.Request) -> web.Response:
    return ok({"data": chain_of(request).spec})


async def syncing(request: web.Request) -> web.Response:
    chain = chain_of(request)
    return ok(
        {
            "data": {
                "head_slot": str(chain.head_slot),
                "sync_distance": "0",
                "is_syncing": False,
                "is_optimistic": False,
                "el_offline": False,
            }
        }
    )


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return ok({"data": {"version": f"StakepoolSim/v{__version__}/python"}})


def register(app: web.Application) -> None:
    r = app.router
    r.add_get("/eth/v1/beacon/genesis", genesis, name="getGenesis")
    r.add_get("/eth/v1/config/spec", spec, name="getSpec")
    r.add_get("/eth/v1/node/syncing", syncing, name="getSyncingStatus")
    r.add_get("/eth/v1/node/health", health, name="getHealth")
    r.add_get("/eth/v1/node/version", version, name="getNodeVersion")
