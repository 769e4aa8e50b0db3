"""Every route the simulator serves answers what the official Beacon API spec allows."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import pytest

from stakepool.sim.server import SimServer
from tests.integration.sim.scenarios import SPE
from tests.openapi import validate_response


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        status: int = 200,
        validate: bool = True,
    ) -> Any:
        async with self.session.request(method, self.base + path, params=query, json=body) as resp:
            raw = await resp.read()
            assert resp.status == status, (path, resp.status, raw[:300])
            headers = {}
            if "Eth-Consensus-Version" in resp.headers:
                headers["Eth-Consensus-Version"] = resp.headers["Eth-Consensus-Version"]
            if validate:
                validate_response(
                    method,
                    path,
                    raw,
                    status=status,
                    query=query,
                    request_body=body,
                    headers=headers,
                )
            return await resp.json() if raw else None


@pytest.fixture
async def client(sim_server: SimServer) -> Any:
    async with aiohttp.ClientSession() as session:
        yield Client(session, sim_server.url)


async def test_pools_while_slashings_are_pending(sim_server: SimServer, client: Client) -> None:
    await sim_server.advance(2 * SPE)
    att = await client.call("GET", "/eth/v2/beacon/pool/attester_slashings")
    assert len(att["data"]) == 1
    prop = await client.call("GET", "/eth/v1/beacon/pool/proposer_slashings")
    assert prop["data"][0]["signed_header_1"]["message"]["proposer_index"] == "42"
    exits = await client.call("GET", "/eth/v1/beacon/pool/voluntary_exits")
    assert exits["data"][0]["message"]["validator_index"] == "45"


async def test_every_route(sim_server: SimServer, client: Client) -> None:
    await sim_server.advance(5 * SPE + 2)
    chain = sim_server.chain
    orphan_slot = 2 * SPE + 5
    head = chain.head_slot

    await client.call("GET", "/eth/v1/beacon/genesis")
    spec = await client.call("GET", "/eth/v1/config/spec")
    assert spec["data"]["SLOTS_PER_EPOCH"] == str(SPE)
    await client.call("GET", "/eth/v1/node/syncing")
    await client.call("GET", "/eth/v1/node/version")
    await client.call("GET", "/eth/v1/node/health")

    # states
    for state_id in ("head", "genesis", "finalized", "justified", str(head - 1)):
        await client.call("GET", f"/eth/v1/beacon/states/{state_id}/finality_checkpoints")
    root = chain.head.state_root
    await client.call("GET", f"/eth/v1/beacon/states/{root}/finality_checkpoints")
    await client.call(
        "GET", "/eth/v1/beacon/states/head/validators", query={"id": "1", "status": "active"}
    )
    vals = await client.call(
        "POST",
        "/eth/v1/beacon/states/head/validators",
        body={"ids": ["40", "42", "60"], "statuses": []},
    )
    assert {v["status"] for v in vals["data"]} == {"active_slashed", "active_ongoing"}
    exiting = await client.call(
        "POST",
        "/eth/v1/beacon/states/head/validators",
        body={"ids": [], "statuses": ["active_exiting"]},
    )
    assert [v["index"] for v in exiting["data"]] == ["45"]
    await client.call("GET", "/eth/v1/beacon/states/head/validators/5")
    ident = await client.call(
        "POST",
        "/eth/v1/beacon/states/head/validator_identities",
        body=["7", vals["data"][0]["validator"]["pubkey"]],
    )
    assert sorted(int(e["index"]) for e in ident["data"]) == [7, 40]
    await client.call("GET", "/eth/v1/beacon/states/head/validators/100000", status=404)
    await client.call("GET", "/eth/v1/beacon/states/head/validator_balances", query={"id": "3"})
    await client.call(
        "POST", "/eth/v1/beacon/states/head/validator_balances", body=["1", "2", "999999"]
    )
    await client.call("GET", "/eth/v1/beacon/states/head/committees", query={"slot": str(head)})
    await client.call("GET", "/eth/v1/beacon/states/head/sync_committees")
    await client.call("GET", "/eth/v1/beacon/states/head/pending_deposits")
    for queue in ("pending_partial_withdrawals", "pending_consolidations"):
        answer = await client.call("GET", f"/eth/v1/beacon/states/head/{queue}")
        assert answer["data"] == []  # the simulator makes no such requests: empty, not 404
    await client.call("GET", "/eth/v1/beacon/states/99999/finality_checkpoints", status=404)
    await client.call("GET", "/eth/v1/beacon/states/bogus/finality_checkpoints", status=400)

    # blocks
    hdrs = await client.call("GET", "/eth/v1/beacon/headers", query={"slot": str(orphan_slot)})
    assert [h["canonical"] for h in hdrs["data"]] == [False]
    await client.call("GET", f"/eth/v1/beacon/headers/{orphan_slot}", status=404)
    await client.call("GET", "/eth/v1/beacon/headers/head")
    await client.call("GET", f"/eth/v1/beacon/headers/{hdrs['data'][0]['root']}")
    block = await client.call("GET", f"/eth/v2/beacon/blocks/{3 * SPE + 1}")
    assert block["data"]["message"]["body"]["attester_slashings"]
    await client.call("GET", "/eth/v1/beacon/blinded_blocks/head")
    await client.call("GET", "/eth/v2/beacon/blocks/head/attestations")
    # v1 forms were removed from the v4 spec; served for clients' fallbacks, not validated
    await client.call("GET", "/eth/v1/beacon/blocks/head/attestations", validate=False)
    await client.call("GET", "/eth/v1/beacon/pool/attester_slashings", validate=False)
    await client.call("GET", f"/eth/v2/beacon/blocks/{2 * SPE + 3}", status=404)

    # duties
    epoch = chain.head_epoch
    await client.call("GET", f"/eth/v1/validator/duties/proposer/{epoch}")
    await client.call("POST", f"/eth/v1/validator/duties/attester/{epoch + 1}", body=["1", "70"])
    await client.call("POST", f"/eth/v1/validator/duties/sync/{epoch}", body=["1", "2", "3"])
    await client.call("POST", f"/eth/v1/validator/liveness/{epoch - 1}", body=["1", "70"])

    # rewards
    await client.call("POST", f"/eth/v1/beacon/rewards/attestations/{epoch - 2}", body=["1", "40"])
    await client.call(
        "POST", f"/eth/v1/beacon/rewards/attestations/{epoch - 1}", body=[], status=404
    )
    await client.call("GET", "/eth/v1/beacon/rewards/blocks/head")
    await client.call("GET", f"/eth/v1/beacon/rewards/blocks/{3 * SPE + 1}")
    await client.call("POST", "/eth/v1/beacon/rewards/sync_committee/head", body=[])


async def test_bodies_as_large_as_a_real_nodes_are_taken(
    sim_server: SimServer, client: Client
) -> None:
    """A pool of 200,000 asks for all its validators in one POST (~2 MB of ids)."""
    head = sim_server.chain.state("head")
    assert head is not None
    n = head.n

    async def post(path: str, body: Any) -> Any:
        data = io.BytesIO(json.dumps(body).encode())  # streamed: a 2 MB bytes body warns
        headers = {"Content-Type": "application/json"}
        async with client.session.post(client.base + path, data=data, headers=headers) as resp:
            assert resp.status == 200, (path, resp.status, (await resp.read())[:300])
            return await resp.json()

    ids = [str(i) for i in reversed(range(200_000))]
    vals = await post("/eth/v1/beacon/states/head/validators", {"ids": ids})
    assert [int(v["index"]) for v in vals["data"]] == list(reversed(range(n)))  # request order
    balances = await post("/eth/v1/beacon/states/head/validator_balances", ids + ids)
    assert len(balances["data"]) == n  # repeated ids answered once
    live = await post(f"/eth/v1/validator/liveness/{sim_server.chain.head_epoch}", ids)
    assert {int(e["index"]) for e in live["data"]} == set(range(n))


async def test_sse_framing_and_errors(sim_server: SimServer, client: Client) -> None:
    await client.call("GET", "/eth/v1/events", query={"topics": "weather"}, status=400)
    async with client.session.get(
        sim_server.url + "/eth/v1/events",
        params=[("topics", "head"), ("topics", "block"), ("topics", "chain_reorg")],
        headers={"Accept": "text/event-stream"},
    ) as resp:
        assert resp.status == 200
        await sim_server.advance(1)
        frames = []
        while len(frames) < 2:
            line = await asyncio.wait_for(resp.content.readline(), 5)
            if line.startswith(b"event:"):
                frames.append(line.decode().split(":", 1)[1].strip())
        assert frames == ["block", "head"]
