"""The pool's members from the configuration: ``[pool] validators`` and ``validators_file``
resolved against the chain's head (the validator clients' keys are ``service/keys``).

A 100,000-line validators file and the node's answer for it are read as columns and matched in a
worker thread: as models on the loop that took about a second in the process bench, while
``/healthz`` and ``/readyz`` waited.
"""

from __future__ import annotations

import asyncio

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.config.sections import PoolSettings
from stakepool.monitor.pool import PoolMember, resolve_pool

log = structlog.get_logger("stakepool")


async def configured_members(pool: PoolSettings, client: BeaconClient) -> tuple[PoolMember, ...]:
    refs = await asyncio.to_thread(pool.all_validators)
    if not refs:
        log.warning("pool_has_no_validators", hint="set [pool] validators or validators_file")
        return ()
    found = (await client.state.validator_columns("head", [r.key for r in refs])).data
    resolution = await asyncio.to_thread(
        resolve_pool, refs, zip(found.index, found.pubkey, strict=True)
    )
    if resolution.unknown:
        log.warning("validators_not_on_chain", ids=list(resolution.unknown))
    return resolution.members
