"""Headers, blocks, block attestations and the operation pools."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from stakepool.sim.chain import SimChain
from stakepool.sim.records import BlockRecord
from stakepool.sim.web_common import (
    VERSION_HEADER,
    ApiError,
    chain_of,
    dumps,
    json_text,
    ok,
    parse_uint,
)


def block_or_error(chain: SimChain, block_id: str) -> BlockRecord:
    try:
        record = chain.block(block_id)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if record is None:
        raise ApiError(404, "Block not found")
    return record


def _finalized(chain: SimChain, record: BlockRecord) -> bool:
    return record.canonical and chain.is_finalized_slot(record.slot)


def header_json(record: BlockRecord) -> dict[str, Any]:
    return {
        "root": record.root,
        "canonical": record.canonical,
        "header": {"message": record.message_header(), "signature": record.signature},
    }


async def get_header(request: web.Request) -> web.Response:
    chain = chain_of(request)
    record = block_or_error(chain, request.match_info["block_id"])
    return ok(
        {
            "execution_optimistic": False,
            "finalized": _finalized(chain, record),
            "data": header_json(record),
        }
    )


async def get_headers(request: web.Request) -> web.Response:
    chain = chain_of(request)
    raw_slot = request.query.get("slot")
    parent = request.query.get("parent_root")
    if raw_slot is not None:
        records = chain.blocks_at_slot(parse_uint(raw_slot, "slot"))
    elif parent is not None:
        records = [
            b
            for slot in range(
                chain.head_slot - 2 * chain.params.slots_per_epoch, chain.head_slot + 1
            )
            for b in chain.blocks_at_slot(slot)
        ]
    else:
        head = chain.block("head")
        records = [] if head is None else [head]
    if parent is not None:
        records = [b for b in records if b.parent_root == parent.lower()]
    return ok(
        {
            "execution_optimistic": False,
            "finalized": all(_finalized(chain, b) for b in records) if records else False,
            "data": [header_json(b) for b in records],
        }
    )


def _block_response(chain: SimChain, record: BlockRecord, *, blinded: bool) -> web.Response:
    body = {
        "version": "electra",
        "execution_optimistic": False,
        "finalized": _finalized(chain, record),
        "data": record.signed(blinded=blinded),
    }
    return json_text(dumps(body), headers=VERSION_HEADER)


async def get_block(request: web.Request) -> web.Response:
    chain = chain_of(request)
    return _block_response(
        chain, block_or_error(chain, request.match_info["block_id"]), blinded=False
    )


async def get_blinded_block(request: web.Request) -> web.Response:
    chain = chain_of(request)
    return _block_response(
        chain, block_or_error(chain, request.match_info["block_id"]), blinded=True
    )


async def get_block_attestations(request: web.Request) -> web.Response:
    chain = chain_of(request)
    record = block_or_error(chain, request.match_info["block_id"])
    body = {
        "version": "electra",
        "execution_optimistic": False,
        "finalized": _finalized(chain, record),
        "data": record.body["attestations"],
    }
    return json_text(dumps(body), headers=VERSION_HEADER)


async def pool_attester_slashings(request: web.Request) -> web.Response:
    chain = chain_of(request)
    data = [op.body for op in chain.operation_pool("attester")]
    return json_text(dumps({"version": "electra", "data": data}), headers=VERSION_HEADER)


async def pool_attester_slashings_v1(request: web.Request) -> web.Response:
    """Removed from the spec in v4.0.0 but still served by most clients (fallback tests)."""
    return ok({"data": [op.body for op in chain_of(request).operation_pool("attester")]})


async def get_block_attestations_v1(request: web.Request) -> web.Response:
    """The pre-v2 form (no ``version``), kept so clients' fallbacks can be exercised."""
    chain = chain_of(request)
    record = block_or_error(chain, request.match_info["block_id"])
    return ok(
        {
            "execution_optimistic": False,
            "finalized": _finalized(chain, record),
            "data": record.body["attestations"],
        }
    )


async def pool_proposer_slashings(request: web.Request) -> web.Response:
    chain = chain_of(request)
    return ok({"data": [op.body for op in chain.operation_pool("proposer")]})


async def pool_voluntary_exits(request: web.Request) -> web.Response:
    return ok({"data": [op.body for op in chain_of(request).operation_pool("voluntary_exit")]})


def register(app: web.Application) -> None:
    r = app.router
    r.add_get("/eth/v1/beacon/headers", get_headers, name="getBlockHeaders")
    r.add_get("/eth/v1/beacon/headers/{block_id}", get_header, name="getBlockHeader")
    r.add_get("/eth/v2/beacon/blocks/{block_id}", get_block, name="getBlockV2")
    r.add_get("/eth/v1/beacon/blinded_blocks/{block_id}", get_blinded_block, name="getBlindedBlock")
    r.add_get(
        "/eth/v2/beacon/blocks/{block_id}/attestations",
        get_block_attestations,
        name="getBlockAttestationsV2",
    )
    r.add_get(
        "/eth/v2/beacon/pool/attester_slashings",
        pool_attester_slashings,
        name="getPoolAttesterSlashingsV2",
    )
    r.add_get(
        "/eth/v1/beacon/pool/attester_slashings",
        pool_attester_slashings_v1,
        name="getPoolAttesterSlashings",
    )
    r.add_get(
        "/eth/v1/beacon/blocks/{block_id}/attestations",
        get_block_attestations_v1,
        name="getBlockAttestations",
    )
    r.add_get(
        "/eth/v1/beacon/pool/proposer_slashings",
        pool_proposer_slashings,
        name="getPoolProposerSlashings",
    )
    r.add_get(
        "/eth/v1/beacon/pool/voluntary_exits", pool_voluntary_exits, name="getPoolVoluntaryExits"
    )
