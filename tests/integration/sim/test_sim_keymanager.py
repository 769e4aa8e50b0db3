"""The simulated validator client's Keymanager API answers what the official spec allows, and
stakepool's keymanager client reads it (and refuses what is not the standard shape)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from stakepool.beacon.keymanager import KeymanagerClient, KeymanagerError
from stakepool.sim import ids
from stakepool.sim.keymanager import SimKeymanager
from tests.keymanager_openapi import validate_keymanager_answer

TOKEN = "ab" * 32


@pytest.fixture
async def keymanager() -> AsyncIterator[SimKeymanager]:
    km = SimKeymanager(TOKEN, local=[3, 4], remote=[9])
    await km.start()
    yield km
    await km.stop()


async def _call(
    km: SimKeymanager,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    status: int = 200,
) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, km.url + path, json=body, headers=headers) as answer,
    ):
        raw = await answer.read()
        assert answer.status == status, raw
        validate_keymanager_answer(method, path, raw, status=status, request_body=body)
        return json.loads(raw)


def _keystore(index: int) -> str:
    return json.dumps({"version": 4, "pubkey": ids.pubkey(index)[2:], "path": "m/12381/3600/0/0/0"})


async def test_list_import_delete_follow_the_spec(keymanager: SimKeymanager) -> None:
    listed = await _call(keymanager, "GET", "/eth/v1/keystores")
    assert {e["validating_pubkey"] for e in listed["data"]} == {ids.pubkey(3), ids.pubkey(4)}
    imported = await _call(
        keymanager,
        "POST",
        "/eth/v1/keystores",
        {"keystores": [_keystore(7), _keystore(3), "{}"], "passwords": ["a", "b", "c"]},
    )
    assert [r["status"] for r in imported["data"]] == ["imported", "duplicate", "error"]
    deleted = await _call(
        keymanager, "DELETE", "/eth/v1/keystores", {"pubkeys": [ids.pubkey(4), ids.pubkey(50)]}
    )
    assert [r["status"] for r in deleted["data"]] == ["deleted", "not_found"]
    remote = await _call(keymanager, "GET", "/eth/v1/remotekeys")
    assert [e["pubkey"] for e in remote["data"]] == [ids.pubkey(9)]
    added = await _call(
        keymanager,
        "POST",
        "/eth/v1/remotekeys",
        {"remote_keys": [{"pubkey": ids.pubkey(10), "url": "https://signer:9000"}]},
    )
    assert [r["status"] for r in added["data"]] == ["imported"]
    gone = await _call(keymanager, "DELETE", "/eth/v1/remotekeys", {"pubkeys": [ids.pubkey(9)]})
    assert [r["status"] for r in gone["data"]] == ["deleted"]

    client = KeymanagerClient(keymanager.url, lambda: TOKEN)
    try:
        assert await client.keys() == {ids.pubkey(3), ids.pubkey(7), ids.pubkey(10)}
    finally:
        await client.close()


async def test_tokens_are_checked(keymanager: SimKeymanager) -> None:
    await _call(keymanager, "GET", "/eth/v1/keystores", token=None, status=401)
    await _call(keymanager, "GET", "/eth/v1/keystores", token="wrong", status=403)
    client = KeymanagerClient(keymanager.url, lambda: "wrong")
    try:
        with pytest.raises(KeymanagerError, match="HTTP 403"):
            await client.keys()
    finally:
        await client.close()


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/eth/v1/keystores", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"data": [{"validating_pubkey": "0x1234"}]}, "not a BLS pubkey"),
        ({"data": {"validating_pubkey": "0x" + "a" * 96}}, "must be an array"),
        ([], "must be an array"),
    ],
)
async def test_a_malformed_answer_is_an_error(body: Any, problem: str) -> None:
    async def answer(_request: web.Request) -> web.Response:
        return web.json_response(body)

    runner, url = await _serve(answer)
    client = KeymanagerClient(url, lambda: TOKEN)
    try:
        with pytest.raises(KeymanagerError, match=problem):
            await client.keys()
    finally:
        await client.close()
        await runner.cleanup()


async def test_a_client_without_remote_keys_holds_only_local_ones() -> None:
    async def answer(_request: web.Request) -> web.Response:
        return web.json_response(
            {"data": [{"validating_pubkey": "0x" + ids.pubkey(5)[2:].upper()}]}
        )

    runner, url = await _serve(answer)  # no /eth/v1/remotekeys route: 404
    client = KeymanagerClient(url, lambda: TOKEN)
    try:
        assert await client.keys() == {ids.pubkey(5)}
    finally:
        await client.close()
        await runner.cleanup()
