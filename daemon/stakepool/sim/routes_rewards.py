"""The three rewards endpoints, answered from what the chain recorded when it applied them."""

from __future__ import annotations

import numpy as np
from aiohttp import web

from stakepool.sim.rewards import attestation_deltas, ideal_rewards
from stakepool.sim.routes_blocks import block_or_error
from stakepool.sim.web_common import (
    ApiError,
    chain_of,
    json_body,
    json_text,
    ok,
    parse_uint,
    parse_validator_ids,
)


async def attestation_rewards(request: web.Request) -> web.Response:
    chain = chain_of(request)
    p = chain.params
    epoch = parse_uint(request.match_info["epoch"], "epoch")
    inputs = chain.reward_inputs(epoch)
    if inputs is None:
        raise ApiError(404, "Epoch not known or required data not available")
    body = await json_body(request, default=[])
    if not isinstance(body, list):
        raise ApiError(400, "Body must be an array of validator ids")
    n = len(inputs.effective_balance)
    idx = (
        np.flatnonzero(inputs.eligible).astype(np.int64)
        if not body
        else parse_validator_ids(body, n)
    )
    d = attestation_deltas(p, inputs, idx)
    rows = zip(
        idx.tolist(),
        d.head.tolist(),
        d.target.tolist(),
        d.source.tolist(),
        d.inactivity.tolist(),
        strict=True,
    )
    total = ",".join(
        f'{{"validator_index":"{v}","head":"{h}","target":"{t}","source":"{s}","inactivity":"{i}"}}'
        for v, h, t, s, i in rows
    )
    buckets = np.unique(inputs.effective_balance[inputs.eligible]).tolist()
    ideal_parts = []
    for eb in buckets:
        src, tgt, head = ideal_rewards(p, inputs, int(eb))
        ideal_parts.append(
            f'{{"effective_balance":"{eb}","head":"{head}","target":"{tgt}","source":"{src}",'
            f'"inactivity":"0"}}'
        )
    finalized = chain.is_finalized_slot(p.last_slot(epoch + 1))
    text = (
        f'{{"execution_optimistic":false,"finalized":{str(finalized).lower()},'
        f'"data":{{"ideal_rewards":[{",".join(ideal_parts)}],"total_rewards":[{total}]}}}}'
    )
    return json_text(text)


async def block_rewards(request: web.Request) -> web.Response:
    chain = chain_of(request)
    record = block_or_error(chain, request.match_info["block_id"])
    r = record.rewards
    data = {
        "proposer_index": str(r.proposer_index),
        "total": str(r.total),
        "attestations": str(r.attestations),
        "sync_aggregate": str(r.sync_aggregate),
        "proposer_slashings": str(r.proposer_slashings),
        "attester_slashings": str(r.attester_slashings),
    }
    finalized = record.canonical and chain.is_finalized_slot(record.slot)
    return ok({"execution_optimistic": False, "finalized": finalized, "data": data})


async def sync_committee_rewards(request: web.Request) -> web.Response:
    chain = chain_of(request)
    record = block_or_error(chain, request.match_info["block_id"])
    body = await json_body(request, default=[])
    if not isinstance(body, list):
        raise ApiError(400, "Body must be an array of validator ids")
    per_validator = record.sync.per_validator() if record.slot > 0 else {}
    if body:
        wanted = parse_validator_ids(body, chain.validator_count).tolist()
        items = [(v, per_validator[v]) for v in wanted if v in per_validator]
    else:
        items = list(per_validator.items())
    data = [{"validator_index": str(v), "reward": str(r)} for v, r in items]
    finalized = record.canonical and chain.is_finalized_slot(record.slot)
    return ok({"execution_optimistic": False, "finalized": finalized, "data": data})


def register(app: web.Application) -> None:
    r = app.router
    r.add_post(
        "/eth/v1/beacon/rewards/attestations/{epoch}",
        attestation_rewards,
        name="getAttestationsRewards",
    )
    r.add_get("/eth/v1/beacon/rewards/blocks/{block_id}", block_rewards, name="getBlockRewards")
    r.add_post(
        "/eth/v1/beacon/rewards/sync_committee/{block_id}",
        sync_committee_rewards,
        name="getSyncCommitteeRewards",
    )
