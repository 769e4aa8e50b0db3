"""A hostile or broken execution node: every answer that is not a usable JSON-RPC result is an
``ExecutionError`` (the EL reward is then reported unknown), never another exception that would
end the rewards task; and every integer it sends is bounded where it enters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from stakepool.execution.client import ExecutionClient
from stakepool.execution.rpc import ExecutionError
from tests.integration.execution.fakerpc import load

Body = Callable[[object], bytes]


class Hostile:
    """Answers every POST with ``body(request_json)``."""

    def __init__(self) -> None:
        self.body: Body = lambda _request: b"{}"
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(
                body=self.body(await request.json()), content_type="application/json"
            )

        app = web.Application()
        app.router.add_post("/", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def node() -> AsyncIterator[Hostile]:
    server = Hostile()
    await server.start()
    yield server
    await server.stop()


BLOCK = load("block_local")
HASH = BLOCK["hash"]


def _result(value: object) -> Body:
    def body(request: object) -> bytes:
        rid = request.get("id") if isinstance(request, dict) else None
        return json.dumps({"jsonrpc": "2.0", "id": rid, "result": value}).encode()

    return body


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (lambda _r: b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            lambda _r: b'{"jsonrpc": "2.0", "id": 1, "result": ' + b"7" * 5000 + b"}",
            "malformed JSON",
        ),
        (lambda _r: b'{"jsonrpc": "2.0", "id": 1, "error": {"code": [1], "message": {}}}', "error"),
        (_result({**BLOCK, "number": "0x1" + "0" * 16}), "block.number"),  # 2^64: not a uint64
        (
            _result(
                {**BLOCK, "transactions": [{**BLOCK["transactions"][0], "value": "0x1" + "f" * 64}]}
            ),
            "value: expected a hex quantity of at most 256 bits",
        ),
        (_result({**BLOCK, "baseFeePerGas": "0x" + "f" * 20_000}), "baseFeePerGas"),
    ],
)
async def test_hostile_block_answers_are_execution_errors(
    node: Hostile, body: Body, said: str
) -> None:
    node.body = body
    async with ExecutionClient(node.url, timeout=10) as client:
        with pytest.raises(ExecutionError, match=said):
            await client.block(HASH)


@pytest.mark.parametrize(
    "ids",
    [
        [[1], {"a": 1}],  # unhashable ids
        [None, "x"],
    ],
)
async def test_a_batch_answer_with_ids_we_never_sent_is_an_execution_error(
    node: Hostile, ids: list[object]
) -> None:
    node.body = lambda _r: json.dumps(
        [{"jsonrpc": "2.0", "id": i, "result": None} for i in ids]
    ).encode()
    async with ExecutionClient(node.url, timeout=10) as client:
        with pytest.raises(ExecutionError, match="lacks ids"):
            await client.batch(
                "eth_getTransactionReceipt", [["0x" + "00" * 32], ["0x" + "11" * 32]]
            )
