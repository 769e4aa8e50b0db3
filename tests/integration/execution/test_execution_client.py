"""``ExecutionClient`` against a fake JSON-RPC server on loopback."""

from __future__ import annotations

import pytest

from stakepool.execution.client import ExecutionClient, execution_client
from stakepool.execution.rpc import ExecutionError
from tests.integration.execution.fakerpc import FakeRpc, load

POOL = "0x388c818ca8b9251b393131c08a736a67ccb19297"
MEV_HASH = load("block_mev")["hash"]
LOCAL_HASH = load("block_local")["hash"]
MEV_PAYMENT = 56_000_000_000_000_000
LOCAL_TIPS = 201_337 * 3 * 10**9


async def test_mev_and_local_blocks(rpc: FakeRpc) -> None:
    async with ExecutionClient(rpc.url) as client:
        mev = await client.el_reward(MEV_HASH, [POOL])
        local = await client.el_reward(LOCAL_HASH, [POOL])
    assert (mev.kind, mev.amount_wei, mev.block_hash) == ("mev_payment", MEV_PAYMENT, MEV_HASH)
    assert (local.kind, local.amount_wei) == ("priority_fees", LOCAL_TIPS)
    assert rpc.calls["eth_getBlockReceipts"] == 2
    assert rpc.calls["eth_getTransactionReceipt"] == 0


async def test_without_block_receipts_the_receipts_come_in_one_batch(rpc: FakeRpc) -> None:
    rpc.block_receipts_supported = False
    async with ExecutionClient(rpc.url, receipts_batch=3) as client:
        first = await client.el_reward(MEV_HASH, [POOL])
        requests_after_first = rpc.http_requests
        second = await client.el_reward(LOCAL_HASH, [POOL])
    assert first.amount_wei == MEV_PAYMENT
    assert second.amount_wei == LOCAL_TIPS
    # MEV block: 1 block + 1 refused getBlockReceipts + 2 batches (4 receipts, 3 per batch).
    assert requests_after_first == 4
    # The refusal is remembered: the local block needs 1 block + 1 batch (2 receipts).
    assert rpc.http_requests - requests_after_first == 2
    assert rpc.calls["eth_getBlockReceipts"] == 1
    assert rpc.calls["eth_getTransactionReceipt"] == 6


async def test_unknown_block_is_a_clear_error(rpc: FakeRpc) -> None:
    async with ExecutionClient(rpc.url) as client:
        with pytest.raises(ExecutionError, match=r"eth_getBlockByHash .*unknown block 0x00"):
            await client.el_reward("0x" + "00" * 32)


async def test_http_errors_and_garbage_are_clear_errors(rpc: FakeRpc) -> None:
    async with ExecutionClient(rpc.url) as client:
        rpc.http_status = 503
        with pytest.raises(ExecutionError, match="HTTP 503"):
            await client.el_reward(MEV_HASH)
        rpc.http_status = 200
        rpc.garbage = True
        with pytest.raises(ExecutionError, match="malformed JSON"):
            await client.el_reward(MEV_HASH)
        rpc.garbage = False
        assert (await client.el_reward(MEV_HASH, [POOL])).amount_wei == MEV_PAYMENT


async def test_malformed_receipts_name_the_field(rpc: FakeRpc) -> None:
    receipts = load("receipts_mev")
    receipts[2]["gasUsed"] = "0x0012"
    block_hash = rpc.add(load("block_mev"), receipts, block_hash="0x" + "ab" * 32)
    async with ExecutionClient(rpc.url) as client:
        with pytest.raises(ExecutionError, match=r"receipts\[2\]\.gasUsed"):
            await client.el_reward(block_hash)


async def test_a_slow_node_times_out(rpc: FakeRpc) -> None:
    rpc.delay = 2.0
    async with ExecutionClient(rpc.url, timeout=0.2) as client:
        with pytest.raises(ExecutionError, match="timed out"):
            await client.el_reward(MEV_HASH)


async def test_an_unreachable_node_is_a_clear_error() -> None:
    server = FakeRpc()
    await server.start()
    url = server.url
    await server.stop()
    async with ExecutionClient(url, timeout=2) as client:
        with pytest.raises(ExecutionError, match=r"ClientConnectorError|Connect"):
            await client.el_reward(MEV_HASH)


async def test_no_url_means_no_client(rpc: FakeRpc) -> None:
    assert execution_client(None) is None
    client = execution_client(rpc.url, timeout=3.0)
    assert client is not None
    async with client:
        assert (await client.el_reward(LOCAL_HASH, [POOL])).amount_wei == LOCAL_TIPS


async def test_batches_answered_in_any_order_or_refused_one_by_one(rpc: FakeRpc) -> None:
    rpc.block_receipts_supported = False
    rpc.batch_reversed = True
    async with ExecutionClient(rpc.url) as client:
        assert (await client.el_reward(MEV_HASH, [POOL])).amount_wei == MEV_PAYMENT
        rpc.batch_refused = True
        before = rpc.http_requests
        assert (await client.el_reward(MEV_HASH, [POOL])).amount_wei == MEV_PAYMENT
        # 1 block + 1 refused batch + 4 single receipts; the refusal is remembered.
        assert rpc.http_requests - before == 6
        before = rpc.http_requests
        assert (await client.el_reward(LOCAL_HASH, [POOL])).amount_wei == LOCAL_TIPS
        assert rpc.http_requests - before == 3
