"""``/eth/v1/beacon/states/{state_id}/…`` routes."""

from __future__ import annotations

from typing import Any

import numpy as np
from aiohttp import web

from stakepool.sim.encode import (
    balances_json,
    filter_statuses,
    identities_json,
    status_codes,
    validators_json,
)
from stakepool.sim.web_common import (
    VERSION_HEADER,
    ApiError,
    chain_of,
    dumps,
    json_body,
    json_text,
    meta,
    ok,
    parse_uint,
    parse_validator_ids,
    query_list,
    state_or_error,
)

PREFIX = "/eth/v1/beacon/states/{state_id}"


def _envelope(chain_meta: dict[str, bool], data_json: str) -> str:
    return (
        f'{{"execution_optimistic":{str(chain_meta["execution_optimistic"]).lower()},'
        f'"finalized":{str(chain_meta["finalized"]).lower()},"data":{data_json}}}'
    )


def _validators(
    request: web.Request, raw_ids: list[Any] | None, statuses: list[str]
) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    n = s.visible
    idx = np.arange(n, dtype=np.int64) if not raw_ids else parse_validator_ids(raw_ids, n)
    epoch = chain.params.epoch_of(s.slot)
    codes = status_codes(s, epoch, idx, chain.params.far_future_epoch)
    if statuses:
        try:
            keep = filter_statuses(codes, statuses)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        idx, codes = idx[keep], codes[keep]
    return json_text(_envelope(meta(chain, s.slot), validators_json(s, idx, codes)))


async def get_validators(request: web.Request) -> web.Response:
    return _validators(request, list(query_list(request, "id")), query_list(request, "status"))


async def post_validators(request: web.Request) -> web.Response:
    body = await json_body(request, default={})
    if not isinstance(body, dict):
        raise ApiError(400, "Body must be an object with ids and/or statuses")
    raw_ids = body.get("ids") or []
    statuses = body.get("statuses") or []
    if not isinstance(raw_ids, list) or not isinstance(statuses, list):
        raise ApiError(400, "ids and statuses must be arrays")
    return _validators(request, raw_ids, [str(x) for x in statuses])


async def get_validator(request: web.Request) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    idx = parse_validator_ids([request.match_info["validator_id"]], s.visible)
    if len(idx) == 0:
        raise ApiError(404, "Validator not found")
    codes = status_codes(s, chain.params.epoch_of(s.slot), idx, chain.params.far_future_epoch)
    entry = validators_json(s, idx, codes)[1:-1]
    return json_text(_envelope(meta(chain, s.slot), entry))


def _balances(request: web.Request, raw_ids: list[Any]) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    idx = (
        np.arange(s.visible, dtype=np.int64)
        if not raw_ids
        else parse_validator_ids(raw_ids, s.visible)
    )
    return json_text(_envelope(meta(chain, s.slot), balances_json(s, idx)))


async def get_balances(request: web.Request) -> web.Response:
    return _balances(request, list(query_list(request, "id")))


async def post_balances(request: web.Request) -> web.Response:
    body = await json_body(request, default=[])
    if not isinstance(body, list):
        raise ApiError(400, "Body must be an array of validator ids")
    return _balances(request, body)


async def post_identities(request: web.Request) -> web.Response:
    body = await json_body(request, default=[])
    if not isinstance(body, list):
        raise ApiError(400, "Body must be an array of validator ids")
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    idx = np.arange(s.visible, dtype=np.int64) if not body else parse_validator_ids(body, s.visible)
    return json_text(_envelope(meta(chain, s.slot), identities_json(s, idx)))


async def state_root(request: web.Request) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    return ok({**meta(chain, s.slot), "data": {"root": s.state_root}})


async def finality_checkpoints(request: web.Request) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    data = {
        "previous_justified": s.previous_justified.to_json(),
        "current_justified": s.current_justified.to_json(),
        "finalized": s.finalized.to_json(),
    }
    return ok({**meta(chain, s.slot), "data": data})


async def committees(request: web.Request) -> web.Response:
    chain = chain_of(request)
    p = chain.params
    s = state_or_error(chain, request.match_info["state_id"])
    state_epoch = p.epoch_of(s.slot)
    epoch = parse_uint(request.query.get("epoch", str(state_epoch)), "epoch")
    if epoch > chain.head_epoch + 1 or epoch + 1 < state_epoch:
        raise ApiError(400, f"Epoch {epoch} is out of range for this state")
    slot_filter = request.query.get("slot")
    index_filter = request.query.get("index")
    slot_wanted = None if slot_filter is None else parse_uint(slot_filter, "slot")
    index_wanted = None if index_filter is None else parse_uint(index_filter, "committee index")
    if slot_wanted is not None and p.epoch_of(slot_wanted) != epoch:
        raise ApiError(400, "Slot does not belong in epoch")
    ec = chain.committees(epoch)
    out = []
    for sie in range(p.slots_per_epoch):
        slot = p.start_slot(epoch) + sie
        if slot_wanted is not None and slot != slot_wanted:
            continue
        for ci in range(ec.per_slot):
            if index_wanted is not None and ci != index_wanted:
                continue
            members = ec.committee(sie, ci).tolist()
            out.append(
                {"index": str(ci), "slot": str(slot), "validators": [str(v) for v in members]}
            )
    return ok({**meta(chain, s.slot), "data": out})


async def sync_committees(request: web.Request) -> web.Response:
    chain = chain_of(request)
    p = chain.params
    s = state_or_error(chain, request.match_info["state_id"])
    state_epoch = p.epoch_of(s.slot)
    epoch = parse_uint(request.query.get("epoch", str(state_epoch)), "epoch")
    period, state_period = p.period_of(epoch), p.period_of(state_epoch)
    if period == state_period:
        seats = s.current_sync_committee
    elif period == state_period + 1:
        seats = s.next_sync_committee
    else:
        raise ApiError(400, "Epoch is outside the sync committee period of the state")
    members = [str(v) for v in seats.tolist()]
    subnets = 4
    size = max(1, len(members) // subnets)
    aggregates = [members[i * size : (i + 1) * size] for i in range(subnets)]
    return ok(
        {**meta(chain, s.slot), "data": {"validators": members, "validator_aggregates": aggregates}}
    )


async def pending_deposits(request: web.Request) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    data = [d.to_json() for d in s.pending_deposits]
    return json_text(
        dumps({"version": "electra", **meta(chain, s.slot), "data": data}),
        headers=VERSION_HEADER,
    )


async def pending_partial_withdrawals(request: web.Request) -> web.Response:
    """Electra's partial-withdrawal queue: the simulator makes no withdrawal requests, so the
    queue of every state it holds is empty (still an answer, as a node's would be)."""
    return _empty_electra_list(request)


async def pending_consolidations(request: web.Request) -> web.Response:
    """Electra's consolidation queue: empty, the simulator makes no consolidation requests."""
    return _empty_electra_list(request)


def _empty_electra_list(request: web.Request) -> web.Response:
    chain = chain_of(request)
    s = state_or_error(chain, request.match_info["state_id"])
    return json_text(
        dumps({"version": "electra", **meta(chain, s.slot), "data": []}), headers=VERSION_HEADER
    )


def register(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/validators", get_validators, name="getStateValidators")
    r.add_post(f"{PREFIX}/validators", post_validators, name="postStateValidators")
    r.add_get(f"{PREFIX}/validators/{{validator_id}}", get_validator, name="getStateValidator")
    r.add_get(f"{PREFIX}/validator_balances", get_balances, name="getStateValidatorBalances")
    r.add_post(f"{PREFIX}/validator_balances", post_balances, name="postStateValidatorBalances")
    r.add_post(
        f"{PREFIX}/validator_identities", post_identities, name="postStateValidatorIdentities"
    )
    r.add_get(f"{PREFIX}/root", state_root, name="getStateRoot")
    r.add_get(
        f"{PREFIX}/finality_checkpoints", finality_checkpoints, name="getStateFinalityCheckpoints"
    )
    r.add_get(f"{PREFIX}/committees", committees, name="getEpochCommittees")
    r.add_get(f"{PREFIX}/sync_committees", sync_committees, name="getEpochSyncCommittees")
    r.add_get(f"{PREFIX}/pending_deposits", pending_deposits, name="getPendingDeposits")
    r.add_get(
        f"{PREFIX}/pending_partial_withdrawals",
        pending_partial_withdrawals,
        name="getPendingPartialWithdrawals",
    )
    r.add_get(
        f"{PREFIX}/pending_consolidations", pending_consolidations, name="getPendingConsolidations"
    )
