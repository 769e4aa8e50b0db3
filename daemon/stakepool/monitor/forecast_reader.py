"""Read the pool's coming duties from the beacon node(s) into a ``DutyForecast``.

Used by ``GET /api/v1/duties/next`` (the daemon's resolved pool) and by ``stakepool duties next``
(the configured pool, without a running daemon). Proposers of the next epoch or the next sync
period may be refused by a node (too early in the epoch, a client quirk): the forecast then simply
knows less (``known_until`` ends earlier), and a window past it is never called free.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.spec import ChainSpec
from stakepool.monitor.forecast import DutyForecast, forecast

log = structlog.get_logger(__name__)


async def read_forecast(
    client: BeaconClient, spec: ChainSpec, pool: Sequence[int], *, now_ms: int
) -> DutyForecast:
    """The forecast as of ``now_ms`` (unix milliseconds). ``BeaconError`` when even the current
    epoch's proposers or sync committee cannot be read: then nothing can be promised."""
    clock = spec.clock()
    spe = spec.slots_per_epoch
    current_slot = int(clock.slot_at(now_ms))
    epoch = current_slot // spe
    indices = sorted(set(pool))

    proposers: dict[int, int] = {}
    known_until = int(clock.last_slot(epoch))
    for duty in (await client.duties.proposer(epoch)).data:
        proposers[int(duty.slot)] = int(duty.validator_index)
    try:
        for duty in (await client.duties.proposer(epoch + 1)).data:
            proposers[int(duty.slot)] = int(duty.validator_index)
        known_until = int(clock.last_slot(epoch + 1))
    except BeaconError as exc:
        log.info("forecast_next_proposers_unknown", epoch=epoch + 1, error=str(exc))

    sync_members: dict[int, list[int]] = {}
    attesters: list[tuple[int, int]] = []
    if indices:
        period = spec.sync_period(epoch)
        current = await client.duties.sync(epoch, indices)
        sync_members[period] = [int(d.validator_index) for d in current.data]
        next_start = (period + 1) * spec.epochs_per_sync_committee_period
        try:
            upcoming = await client.duties.sync(next_start, indices)
            sync_members[period + 1] = [int(d.validator_index) for d in upcoming.data]
        except BeaconError as exc:
            # Whoever sits in the next committee is unknown: nothing past this period is known.
            known_until = min(known_until, int(clock.start_slot(next_start)) - 1)
            log.info("forecast_next_sync_committee_unknown", period=period + 1, error=str(exc))
        for at in (epoch, epoch + 1):
            try:
                duties = await client.duties.attester_columns(at, indices)
            except BeaconError as exc:  # attestations are told, never gate: knowing less is fine
                log.info("forecast_attester_duties_unknown", epoch=at, error=str(exc))
                continue
            attesters += zip(duties.data.slot, duties.data.validator_index, strict=True)

    return forecast(
        current_slot=current_slot,
        slots_per_epoch=spe,
        epochs_per_period=spec.epochs_per_sync_committee_period,
        pool=indices,
        proposers=proposers,
        sync_members=sync_members,
        attesters=attesters,
        known_until=known_until,
    )
