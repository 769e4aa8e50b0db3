"""Validator duties and liveness."""

from __future__ import annotations

import numpy as np
from aiohttp import web

from stakepool.sim import ids
from stakepool.sim.web_common import (
    ApiError,
    chain_of,
    json_body,
    ok,
    parse_uint,
    parse_validator_ids,
)


def _epoch(request: web.Request, *, max_ahead: int = 1) -> int:
    chain = chain_of(request)
    epoch = parse_uint(request.match_info["epoch"], "epoch")
    if epoch > chain.head_epoch + max_ahead:
        raise ApiError(400, f"Invalid epoch: {epoch} is too far in the future")
    return epoch


async def _index_body(request: web.Request) -> list[str]:
    body = await json_body(request, default=None)
    if not isinstance(body, list) or not body:
        raise ApiError(400, "Body must be a non-empty array of validator indices")
    return [str(x) for x in body]


async def proposer_duties(request: web.Request) -> web.Response:
    chain = chain_of(request)
    epoch = _epoch(request)
    proposers = chain.proposers(epoch)
    if proposers is None:
        raise ApiError(404, f"Proposer duties for epoch {epoch} are not available")
    start = chain.params.start_slot(epoch)
    data = [
        {"pubkey": ids.pubkey(v), "validator_index": str(v), "slot": str(start + i)}
        for i, v in enumerate(proposers.tolist())
    ]
    return ok(
        {
            "dependent_root": chain.dependent_root(epoch),
            "execution_optimistic": False,
            "data": data,
        }
    )


async def attester_duties(request: web.Request) -> web.Response:
    chain = chain_of(request)
    p = chain.params
    epoch = _epoch(request)
    idx = parse_validator_ids(
        await _index_body(request), chain.validator_count, allow_pubkeys=False
    )
    ec = chain.committees(epoch)
    valid, slot_in_epoch, cindex, pos, length = ec.duties(idx)
    keep = valid == 1
    start = p.start_slot(epoch)
    rows = zip(
        idx[keep].tolist(),
        slot_in_epoch[keep].tolist(),
        cindex[keep].tolist(),
        pos[keep].tolist(),
        length[keep].tolist(),
        strict=True,
    )
    per_slot = str(ec.per_slot)
    data = [
        {
            "pubkey": ids.pubkey(v),
            "validator_index": str(v),
            "committee_index": str(ci),
            "committee_length": str(ln),
            "committees_at_slot": per_slot,
            "validator_committee_index": str(ps),
            "slot": str(start + sie),
        }
        for v, sie, ci, ps, ln in rows
    ]
    return ok(
        {
            "dependent_root": chain.dependent_root(max(epoch - 1, 0)),
            "execution_optimistic": False,
            "data": data,
        }
    )


async def sync_duties(request: web.Request) -> web.Response:
    chain = chain_of(request)
    p = chain.params
    epoch = parse_uint(request.match_info["epoch"], "epoch")
    if p.period_of(epoch) > p.period_of(chain.head_epoch) + 1:
        raise ApiError(400, "Epoch is beyond the next sync committee period")
    idx = parse_validator_ids(
        await _index_body(request), chain.validator_count, allow_pubkeys=False
    )
    seats = chain.sync_committee(epoch)
    if seats is None:
        raise ApiError(404, "Sync committee for this epoch is not available")
    wanted = set(idx.tolist())
    positions: dict[int, list[str]] = {}
    for pos, v in enumerate(seats.tolist()):
        if v in wanted:
            positions.setdefault(v, []).append(str(pos))
    data = [
        {
            "pubkey": ids.pubkey(v),
            "validator_index": str(v),
            "validator_sync_committee_indices": positions[v],
        }
        for v in idx.tolist()
        if v in positions
    ]
    return ok({"execution_optimistic": False, "data": data})


async def liveness(request: web.Request) -> web.Response:
    chain = chain_of(request)
    epoch = _epoch(request, max_ahead=0)
    idx = parse_validator_ids(
        await _index_body(request), chain.validator_count, allow_pubkeys=False
    )
    live = chain.live(epoch, idx) if len(idx) else np.zeros(0, dtype=np.bool_)
    data = [
        {"index": str(v), "is_live": bool(x)}
        for v, x in zip(idx.tolist(), live.tolist(), strict=True)
    ]
    return ok({"data": data})


def register(app: web.Application) -> None:
    r = app.router
    r.add_get(
        "/eth/v1/validator/duties/proposer/{epoch}", proposer_duties, name="getProposerDuties"
    )
    r.add_post(
        "/eth/v1/validator/duties/attester/{epoch}", attester_duties, name="getAttesterDuties"
    )
    r.add_post("/eth/v1/validator/duties/sync/{epoch}", sync_duties, name="getSyncCommitteeDuties")
    r.add_post("/eth/v1/validator/liveness/{epoch}", liveness, name="getLiveness")
