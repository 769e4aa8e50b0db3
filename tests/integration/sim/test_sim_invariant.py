"""Balance deltas, block contents and the three rewards endpoints agree to the Gwei.

For every validator, over the window (LAST(S), LAST(E)]:
    B(E) − B(S) + withdrawals − deposits credited
        == Σ attestation rewards(S−1 … E−2) + Σ block rewards + Σ sync rewards − slashing penalties
computed from nothing but the simulator's REST answers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp

from stakepool.sim.server import SimServer
from tests.integration.sim.scenarios import SPE

START, END = 1, 6


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as resp:
        if resp.status == 404:
            return None
        assert resp.status == 200, (url, resp.status)
        return await resp.json()


async def _post(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(url, json=body) as resp:
        assert resp.status == 200, (url, resp.status, await resp.text())
        return await resp.json()


async def test_balance_identity_holds_exactly(sim_server: SimServer) -> None:
    await sim_server.advance((END + 1) * SPE - 1)
    base = sim_server.url
    last_s, last_e = (START + 1) * SPE - 1, (END + 1) * SPE - 1
    async with aiohttp.ClientSession() as http:
        spec = (await _get(http, f"{base}/eth/v1/config/spec"))["data"]
        quotient = int(spec["MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA"])

        async def balances(slot: int) -> dict[int, int]:
            doc = await _post(http, f"{base}/eth/v1/beacon/states/{slot}/validator_balances", [])
            return {int(e["index"]): int(e["balance"]) for e in doc["data"]}

        async def validators(slot: int) -> dict[int, dict[str, Any]]:
            doc = await _post(http, f"{base}/eth/v1/beacon/states/{slot}/validators", {})
            return {int(e["index"]): e for e in doc["data"]}

        async def queued(slot: int, index_of: dict[str, int]) -> Counter[int]:
            doc = await _get(http, f"{base}/eth/v1/beacon/states/{slot}/pending_deposits")
            out: Counter[int] = Counter()
            for d in doc["data"]:
                out[index_of[d["pubkey"]]] += int(d["amount"])
            return out

        start, end = await balances(last_s), await balances(last_e)
        registry = await validators(last_e)
        index_of = {v["validator"]["pubkey"]: i for i, v in registry.items()}
        flows: Counter[int] = Counter()  # withdrawals − deposits
        explained: Counter[int] = Counter()
        flows.update(await queued(last_s, index_of))
        flows.subtract(await queued(last_e, index_of))
        saw = Counter[str]()

        for epoch in range(START - 1, END - 1):
            doc = await _post(http, f"{base}/eth/v1/beacon/rewards/attestations/{epoch}", [])
            for r in doc["data"]["total_rewards"]:
                v = int(r["validator_index"])
                explained[v] += sum(int(r[k]) for k in ("head", "target", "source", "inactivity"))
                saw["missed"] += int(r["target"]) < 0

        for slot in range(last_s + 1, last_e + 1):
            block = await _get(http, f"{base}/eth/v2/beacon/blocks/{slot}")
            if block is None:
                saw["empty"] += 1
                continue
            body = block["data"]["message"]["body"]
            for w in body["execution_payload"]["withdrawals"]:
                flows[int(w["validator_index"])] += int(w["amount"])
                saw["withdrawals"] += 1
            for d in body["execution_requests"]["deposits"]:
                flows[index_of[d["pubkey"]]] -= int(d["amount"])
                saw["deposits"] += 1
            rewards = (await _get(http, f"{base}/eth/v1/beacon/rewards/blocks/{slot}"))["data"]
            explained[int(rewards["proposer_index"])] += int(rewards["total"])
            sync = await _post(http, f"{base}/eth/v1/beacon/rewards/sync_committee/{slot}", [])
            for r in sync["data"]:
                explained[int(r["validator_index"])] += int(r["reward"])
            saw["sync"] += len(sync["data"])
            if body["attester_slashings"] or body["proposer_slashings"]:
                before = await validators(slot - 1)
                after = await validators(slot)
                for v, entry in after.items():
                    if entry["validator"]["slashed"] and not before[v]["validator"]["slashed"]:
                        eb = int(before[v]["validator"]["effective_balance"])
                        explained[v] -= eb // quotient
                        saw["slashed"] += 1

    assert saw["withdrawals"] > 0
    assert saw["deposits"] == 1
    assert saw["slashed"] == 3
    assert saw["empty"] >= 2
    assert saw["missed"] > 0
    assert saw["sync"] > 0
    mismatches = {
        v: (end[v] - start[v] + flows[v], explained[v])
        for v in end
        if end[v] - start[v] + flows[v] != explained[v]
    }
    assert mismatches == {}
