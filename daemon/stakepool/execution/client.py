"""``ExecutionClient``: the few standard JSON-RPC calls EL rewards need, over aiohttp.

``eth_getBlockByHash(hash, true)`` for the coinbase, base fee and transactions, then
``eth_getBlockReceipts(hash)``; where a node lacks that method (JSON-RPC -32601) the receipts come
from batched ``eth_getTransactionReceipt`` calls (one call per transaction where the node refuses
batches). The block is asked for by hash (the
beacon block's ``execution_payload.block_hash``), never by number, so an EL reorg cannot hand us
another block's receipts.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Sequence
from typing import Any

import aiohttp

from stakepool.chain.redact import authorization, split_userinfo
from stakepool.execution.maths import el_reward
from stakepool.execution.rpc import ExecutionError, MethodNotFound, parse_block, parse_receipt
from stakepool.execution.types import ElReward, ExecBlock, Receipt

_METHOD_NOT_FOUND = -32601
_SINGLE_CALLS_AT_ONCE = 16


class BatchRefused(ExecutionError):
    """The node answered a batch with a single error (batching disabled or limited)."""


class ExecutionClient:
    """One EL node's JSON-RPC at ``url``; ``timeout`` seconds per request."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        receipts_batch: int = 200,
        auth: str | None = None,
    ) -> None:
        if timeout <= 0 or receipts_batch < 1:
            raise ValueError("timeout must be positive and receipts_batch ≥ 1")
        # Errors and logs name the node by its URL without credentials; they go in a header.
        self.url, url_auth = split_userinfo(url)
        auth = url_auth or auth
        self._headers = {"Authorization": authorization(auth)} if auth else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.receipts_batch = receipts_batch
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._block_receipts_missing = False
        self._batch_refused = False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ExecutionClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self._headers)
        return self._session

    async def _post(self, method: str, payload: object) -> Any:
        try:
            async with self._http().post(self.url, json=payload) as resp:
                if resp.status != 200:
                    text = (await resp.text())[:200]
                    raise ExecutionError(method, f"HTTP {resp.status}: {text}", url=self.url)
                return await resp.json(content_type=None)
        except TimeoutError as exc:
            raise ExecutionError(method, "timed out", url=self.url) from exc
        except aiohttp.ClientError as exc:
            raise ExecutionError(method, f"{type(exc).__name__}: {exc}", url=self.url) from exc
        except ValueError as exc:  # the body is not JSON (or holds a 5,000-digit number)
            raise ExecutionError(method, f"malformed JSON: {str(exc)[:200]}", url=self.url) from exc
        except RecursionError as exc:  # JSON nested thousands deep: the decoder unwinds cleanly
            raise ExecutionError(method, "malformed JSON: nested too deeply", url=self.url) from exc

    def _result(self, method: str, answer: object) -> Any:
        if not isinstance(answer, dict):
            raise ExecutionError(method, "malformed answer: not an object", url=self.url)
        error = answer.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            cls = MethodNotFound if code == _METHOD_NOT_FOUND else ExecutionError
            raise cls(method, f"error {str(code)[:40]}: {str(message)[:200]}", url=self.url)
        if "result" not in answer:
            raise ExecutionError(method, "malformed answer: no result", url=self.url)
        return answer["result"]

    async def call(self, method: str, params: Sequence[object]) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return self._result(method, await self._post(method, request))

    async def batch(self, method: str, params_list: Sequence[Sequence[object]]) -> list[Any]:
        """Several calls of ``method`` in one HTTP request; answers in request order."""
        if not params_list:
            return []
        ids = [next(self._ids) for _ in params_list]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": list(p)}
            for i, p in zip(ids, params_list, strict=True)
        ]
        answer = await self._post(method, payload)
        if not isinstance(answer, list):
            # A node refusing batches answers with a single error object.
            try:
                self._result(method, answer)
            except ExecutionError as exc:
                raise BatchRefused(method, str(exc), url=self.url) from exc
            raise ExecutionError(method, "malformed batch answer: not a list", url=self.url)
        # Only ids we could have sent (ints) count: a list or object "id" is unhashable.
        by_id = {a["id"]: a for a in answer if isinstance(a, dict) and type(a.get("id")) is int}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ExecutionError(method, f"batch answer lacks ids {missing[:3]}", url=self.url)
        return [self._result(method, by_id[i]) for i in ids]

    async def block(self, block_hash: str) -> ExecBlock:
        result = await self.call("eth_getBlockByHash", [block_hash, True])
        if result is None:
            raise ExecutionError("eth_getBlockByHash", f"unknown block {block_hash}", url=self.url)
        try:
            return parse_block(result)
        except ValueError as exc:
            raise ExecutionError("eth_getBlockByHash", str(exc), url=self.url) from exc

    async def receipts(self, block: ExecBlock) -> tuple[Receipt, ...]:
        if not self._block_receipts_missing:
            try:
                result = await self.call("eth_getBlockReceipts", [block.hash])
            except MethodNotFound:
                self._block_receipts_missing = True
            else:
                if not isinstance(result, list):
                    raise ExecutionError(
                        "eth_getBlockReceipts", f"no receipts for {block.hash}", url=self.url
                    )
                return self._parse_receipts("eth_getBlockReceipts", result)
        out: list[Any] = []
        hashes = [tx.hash for tx in block.transactions]
        for start in range(0, len(hashes), self.receipts_batch):
            chunk = hashes[start : start + self.receipts_batch]
            if not self._batch_refused:
                try:
                    out.extend(await self.batch("eth_getTransactionReceipt", [[h] for h in chunk]))
                    continue
                except BatchRefused:
                    self._batch_refused = True
            # One call per transaction, a few at a time: slower, but every node answers it.
            for i in range(0, len(chunk), _SINGLE_CALLS_AT_ONCE):
                calls = chunk[i : i + _SINGLE_CALLS_AT_ONCE]
                out.extend(
                    await asyncio.gather(
                        *(self.call("eth_getTransactionReceipt", [h]) for h in calls)
                    )
                )
        return self._parse_receipts("eth_getTransactionReceipt", out)

    def _parse_receipts(self, method: str, items: list[Any]) -> tuple[Receipt, ...]:
        try:
            return tuple(parse_receipt(r, f"receipts[{i}]") for i, r in enumerate(items))
        except ValueError as exc:
            raise ExecutionError(method, str(exc), url=self.url) from exc

    async def el_reward(self, block_hash: str, fee_recipients: Collection[str] = ()) -> ElReward:
        """The EL reward of the block ``block_hash`` (see ``execution.maths.el_reward``)."""
        block = await self.block(block_hash)
        receipts = await self.receipts(block)
        try:
            return el_reward(block, receipts, fee_recipients)
        except ValueError as exc:
            raise ExecutionError("el_reward", str(exc), url=self.url) from exc


def execution_client(
    url: str | None, timeout: float = 10.0, auth: str | None = None
) -> ExecutionClient | None:
    """The client for ``[execution] url`` / ``timeout_seconds`` / ``auth``; ``None`` when no URL
    is set (EL rewards are then reported unknown, never 0)."""
    return None if url is None else ExecutionClient(url, timeout=timeout, auth=auth)
