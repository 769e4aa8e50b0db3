"""A beacon node answers plausible-looking but wrong balances (one validator 1 ETH richer at one
window's end, no deposit): the window is refused, never written — held with a warning when there
is one node, read from the other node when there are two — and the ledger ends equal to the
chain's own books (before the fix the wrong gwei were recorded silently)."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from stakepool.ledger.queries import EpochRange
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.sim.chain import SimChain
from tests.integration.conftest import MakeSimClient
from tests.integration.money.moneykit import POOL, SCENARIO, sim_truth
from tests.integration.money.test_feed_reorg import DELEGATIONS, POLICY, _chain, _feed
from tests.integration.simkit import Handler, InterceptingSimServer

VICTIM = 3
BALANCES = "/validator_balances"


class OneWrongAnswer(InterceptingSimServer):
    """The simulator; while ``armed``, the next balances answer gives ``VICTIM`` 1 ETH more."""

    def __init__(self, chain: SimChain) -> None:
        super().__init__(chain)
        self.armed = False
        self.lied = 0

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not (self.armed and request.path.endswith(BALANCES)):
            return response
        assert isinstance(response, web.Response)
        assert response.body is not None
        body = json.loads(bytes(response.body))  # type: ignore[arg-type]
        for item in body["data"]:
            if int(item["index"]) == VICTIM:
                item["balance"] = str(int(item["balance"]) + 10**9)
                self.armed = False
                self.lied += 1
        return web.json_response(body)


async def _run(
    tmp_path: Path, urls: list[str], sim_client: MakeSimClient, liar: OneWrongAnswer
) -> tuple[SqliteLedgerStore, list[MutableMapping[str, Any]]]:
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id="p", policy=POLICY)
    await store.apply_delegations(DELEGATIONS)
    feed = await _feed(sim_client(*urls, retries=0), LedgerService(store, events=False))
    with structlog.testing.capture_logs() as logs:
        for closed in (2, 3):
            await feed.on_epoch_closed(closed)
        liar.armed = True  # the read-ahead of window 4 meets the wrong answer
        for closed in (4, 5, 6):
            await feed.on_epoch_closed(closed)
    return store, logs


async def _check(store: SqliteLedgerStore, chain: SimChain) -> None:
    rows = await store.validator_epochs(VICTIM, EpochRange(1, 5))
    assert [r.epoch for r in rows] == [1, 2, 3, 4, 5]
    assert [r.reward_gwei for r in rows] == [sim_truth(chain, k, VICTIM) for k in range(1, 6)]


async def test_with_one_node_the_window_is_held_and_said(
    tmp_path: Path, sim_client: MakeSimClient
) -> None:
    chain = _chain(SCENARIO)
    node = OneWrongAnswer(chain)
    async with node:
        store, logs = await _run(tmp_path, [node.url], sim_client, node)
    assert node.lied == 1
    await _check(store, chain)  # held, read again at the next close: the truth, nothing else
    warned = [e for e in logs if e["event"] == "rewards_implausible"]
    assert len(warned) == 1
    assert warned[0]["epoch"] == 4
    assert f"validator {VICTIM}" in warned[0]["error"]
    assert VICTIM in POOL
    store.db.close()


async def test_with_two_nodes_the_window_is_read_from_the_other(
    tmp_path: Path, sim_client: MakeSimClient
) -> None:
    chain = _chain(SCENARIO)
    first, second = OneWrongAnswer(chain), OneWrongAnswer(chain)
    async with first, second:
        store, logs = await _run(tmp_path, [first.url, second.url], sim_client, first)
    assert first.lied == 1
    await _check(store, chain)
    warned = [e for e in logs if e["event"] == "rewards_implausible"]
    assert [(e["epoch"], e["node"]) for e in warned] == [(4, first.url)]
    assert not any(e["event"] == "ledger_window_read_ahead_failed" for e in logs)
    store.db.close()
