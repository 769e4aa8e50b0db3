"""A small execution-layer JSON-RPC server on loopback serving recorded-shape blocks and receipts.

Knobs reproduce what real nodes do: no ``eth_getBlockReceipts`` (older clients answer -32601),
HTTP errors, garbage bodies, slow answers (for timeouts). ``calls`` counts methods as received.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parents[2] / "fixtures" / "execution"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class FakeRpc:
    def __init__(self) -> None:
        self.blocks: dict[str, Any] = {}
        self.receipts: dict[str, list[Any]] = {}
        self.calls: Counter[str] = Counter()
        self.http_requests = 0
        self.authorizations: list[str | None] = []
        """The ``Authorization`` header of each request, as received."""
        self.block_receipts_supported = True
        self.http_status = 200
        self.garbage = False
        self.delay = 0.0
        self.batch_reversed = False
        """Answer a batch in reverse order (the JSON-RPC spec allows any order)."""
        self.batch_refused = False
        """Answer a batch with one error object, as nodes with batching disabled do."""
        self._runner: web.AppRunner | None = None
        self.url = ""

    def add(self, block: Any, receipts: list[Any], *, block_hash: str | None = None) -> str:
        """Serve ``block`` (under ``block_hash`` if given, its hash rewritten to match)."""
        block = dict(block)
        if block_hash is not None:
            block["hash"] = block_hash
        self.blocks[block["hash"]] = block
        self.receipts[block["hash"]] = receipts
        return str(block["hash"])

    def _answer(self, request: Any) -> dict[str, Any]:
        rid = request.get("id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32600, "message": "bad"}}
        method, params = request.get("method"), request.get("params") or []
        self.calls[str(method)] += 1
        if method == "eth_getBlockByHash":
            block = self.blocks.get(params[0])
            if block is not None and params[1] is False:
                block = {**block, "transactions": [t["hash"] for t in block["transactions"]]}
            return {"jsonrpc": "2.0", "id": rid, "result": block}
        if method == "eth_getBlockReceipts" and self.block_receipts_supported:
            return {"jsonrpc": "2.0", "id": rid, "result": self.receipts.get(params[0])}
        if method == "eth_getTransactionReceipt":
            found = next(
                (
                    r
                    for rs in self.receipts.values()
                    for r in rs
                    if r["transactionHash"] == params[0]
                ),
                None,
            )
            return {"jsonrpc": "2.0", "id": rid, "result": found}
        return {
            "jsonrpc": "2.0",
            "id": rid,
            "error": {"code": -32601, "message": f"the method {method} does not exist"},
        }

    async def _handle(self, request: web.Request) -> web.Response:
        self.http_requests += 1
        self.authorizations.append(request.headers.get("Authorization"))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.http_status != 200:
            return web.Response(status=self.http_status, text="upstream unavailable")
        if self.garbage:
            return web.Response(text="<html>502 Bad Gateway</html>")
        body = await request.json()
        if isinstance(body, list) and self.batch_refused:
            error = {"code": -32005, "message": "batch requests are disabled"}
            return web.json_response({"jsonrpc": "2.0", "id": None, "error": error})
        answer: Any = (
            [self._answer(r) for r in body] if isinstance(body, list) else self._answer(body)
        )
        if isinstance(answer, list) and self.batch_reversed:
            answer.reverse()
        return web.json_response(answer)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
