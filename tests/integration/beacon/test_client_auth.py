"""A beacon node behind authentication: ``[beacon] auth`` or a URL's ``user:password@`` reach the
node as an ``Authorization`` header (requests and the event stream alike), and the node is named
by its bare URL everywhere (health, errors)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from stakepool.beacon.client import BeaconClient
from tests.integration.simkit import FAST_RETRY, Handler, InterceptingSimServer, stepped_chain


class RecordingServer(InterceptingSimServer):
    """Answers only requests carrying ``required`` (401 otherwise); records what came."""

    required = ""
    seen: list[str | None]

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization")
        self.seen.append(given)
        if given != self.required:
            return web.json_response({"code": 401, "message": "unauthorized"}, status=401)
        return await handler(request)


@pytest.fixture
async def node() -> AsyncIterator[RecordingServer]:
    server = RecordingServer(stepped_chain(20), host="127.0.0.1", keepalive_seconds=1.0)
    server.seen = []
    await server.start()
    yield server
    await server.stop()


async def test_url_credentials_are_sent_as_basic_auth_and_never_name_the_node(
    node: RecordingServer,
) -> None:
    node.required = "Basic " + base64.b64encode(b"pool:s3cret-b").decode()
    bare = node.url.rstrip("/")
    async with BeaconClient(
        [bare.replace("http://", "http://pool:s3cret-b@")], retries=0, retry_backoff=FAST_RETRY
    ) as client:
        spec = await client.node.spec()
        assert spec["SLOTS_PER_EPOCH"] == "8"
        assert client.urls == [bare]
        assert [h.url for h in client.health()] == [bare]
    assert node.seen
    assert set(node.seen) == {node.required}


async def test_configured_auth_goes_to_every_node(node: RecordingServer) -> None:
    node.required = "Bearer tok-123456"
    async with BeaconClient(
        [node.url], retries=0, retry_backoff=FAST_RETRY, auth="Bearer tok-123456"
    ) as client:
        await client.node.spec()
    assert set(node.seen) == {"Bearer tok-123456"}
