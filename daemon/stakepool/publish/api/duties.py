"""``GET /api/v1/duties/next``: the pool's coming duties and whether a maintenance window is free.

A read endpoint (no token): it tells when the pool's validators propose, sit in the sync
committee and attest, the longest stretch of slots with neither a proposal nor a sync seat, and,
with ``?within=N``, whether the ``N`` slots starting with the current one are free of both, so a
deploy gate can wait for a safe moment. It asks the beacon node on each request (a few small
duty queries), so the answer is as fresh as the node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from stakepool.beacon.errors import BeaconError
from stakepool.monitor.forecast import DutyForecast
from stakepool.publish.api import params
from stakepool.publish.api.errors import ApiError, add_read_route, error_answer, json_answer

log = structlog.get_logger(__name__)

PATH = "/api/v1/duties/next"

ForecastSource = Callable[[], Awaitable[DutyForecast | None]]
"""Reads the forecast now; None while the daemon is not following the chain yet."""


def encode_forecast(fc: DutyForecast, within: int | None) -> dict[str, Any]:
    spe = fc.slots_per_epoch
    gap = fc.longest_gap()
    window: dict[str, Any] | None = None
    if within is not None:
        window = {
            "slots": within,
            "last_slot": fc.current_slot + within - 1,
            "free": fc.free_for(within),
            "known": fc.current_slot + within - 1 <= fc.known_until,
            "first_busy_slot": fc.busy_within(within),
        }
    return {
        "current_slot": fc.current_slot,
        "current_epoch": fc.current_epoch,
        "known_until_slot": fc.known_until,
        "next_busy_slot": fc.first_busy(),
        "proposals": [
            {"slot": p.slot, "epoch": p.slot // spe, "validator_index": p.validator_index}
            for p in fc.proposals
        ],
        "sync_committees": [
            {
                "period": s.period,
                "first_slot": s.first_slot,
                "last_slot": s.last_slot,
                "validator_indices": list(s.validator_indices),
            }
            for s in fc.sync
        ],
        "attestations": [{"slot": a.slot, "validators": a.validators} for a in fc.attestations],
        "longest_gap": None
        if gap is None
        else {"first_slot": gap.first_slot, "last_slot": gap.last_slot, "slots": gap.slots},
        "window": window,
    }


def _within(query: Any) -> int | None:
    raw = query.get("within")
    if raw is None:
        return None
    value = params.parse_uint("within", raw)
    if value < 1:
        raise ApiError(400, "parameter 'within': must be at least 1 slot")
    return value


def add_duties_route(app: web.Application, source: ForecastSource) -> None:
    async def handler(request: web.Request) -> web.Response:
        try:
            within = _within(request.query)
        except ApiError as exc:
            return error_answer(exc.status, exc.message)
        try:
            fc = await source()
        except BeaconError as exc:
            log.warning("duties_forecast_failed", error=str(exc))
            return error_answer(503, f"the beacon node cannot tell the coming duties: {exc}")
        if fc is None:
            return error_answer(503, "not ready: the daemon is not following the chain yet")
        return json_answer({"data": encode_forecast(fc, within)})

    add_read_route(app, PATH, handler)
