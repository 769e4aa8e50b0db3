"""An execution node behind authentication: credentials from the URL or ``[execution] auth`` go in
the ``Authorization`` header, and no error message names them."""

from __future__ import annotations

import base64

import pytest

from stakepool.execution.client import ExecutionClient, execution_client
from stakepool.execution.rpc import ExecutionError
from tests.integration.execution.fakerpc import FakeRpc


async def test_url_credentials_become_basic_auth_and_stay_out_of_errors(rpc: FakeRpc) -> None:
    url = rpc.url.replace("http://", "http://el:p%40ss-w0rd@")
    rpc.http_status = 503
    async with ExecutionClient(url, timeout=2) as client:
        assert client.url == rpc.url
        with pytest.raises(ExecutionError) as caught:
            await client.el_reward("0x" + "11" * 32)
    assert rpc.authorizations[0] == "Basic " + base64.b64encode(b"el:p@ss-w0rd").decode()
    assert "p@ss" not in str(caught.value)
    assert "p%40ss" not in str(caught.value)
    assert rpc.url.rstrip("/") in str(caught.value)  # the node is still named


async def test_configured_auth_is_sent_as_it_is(rpc: FakeRpc) -> None:
    client = execution_client(rpc.url, 2.0, "Bearer el-token-9")
    assert client is not None
    async with client:
        rpc.http_status = 500
        with pytest.raises(ExecutionError):
            await client.el_reward("0x" + "11" * 32)
    assert rpc.authorizations[0] == "Bearer el-token-9"
