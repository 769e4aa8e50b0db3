"""Hostile requests found by a probe: each is a 4xx with a clear message, never a 500, and the
ledger is untouched. Raw bytes go over a plain socket where aiohttp's client would refuse them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from stakepool.config import Settings
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.http import HttpServer, add_doppelganger_route, build_app
from tests.integration.api.conftest import TOKEN, ApiClient, ServeApi, dump

HUGE = "1" * 5000  # past Python's 4,300-digit limit for int(str)


async def _raw(base: str, request: bytes) -> tuple[int, dict[str, object]]:
    """Send ``request`` byte for byte; the status and the JSON body of the answer."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}


def _post(path: str, body: bytes, *, authorization: bytes) -> bytes:
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAuthorization: " + authorization + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


async def test_a_5000_digit_json_number_in_a_delegation_is_a_400(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    before = dump(ledger.db)
    raw = '{"delegations": [{"delegator": "dave", "amount_gwei": ' + HUGE + ', "from_epoch": 9}]}'
    answer = await client.post(
        "/api/v1/delegations",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
        token=TOKEN,
    )
    assert answer.status == 400, answer.raw[:200]
    assert "5000 digits" in answer.json["message"]
    assert dump(ledger.db) == before


async def test_a_5000_digit_amount_string_in_a_delegation_is_a_400(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    before = dump(ledger.db)
    body = {"delegations": [{"delegator": "dave", "amount_gwei": HUGE, "from_epoch": 9}]}
    answer = await client.post("/api/v1/delegations", body, token=TOKEN)
    assert answer.status == 400
    assert "amount_gwei must be in 1..9223372036854775807" in answer.json["message"]
    assert dump(ledger.db) == before


async def test_a_5000_digit_json_number_in_a_payout_is_a_400(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    before = dump(ledger.db)
    raw = '{"delegator": "alice", "amount_gwei": ' + HUGE + "}"
    answer = await client.post(
        "/api/v1/payouts",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
        token=TOKEN,
    )
    assert answer.status == 400
    assert "digits" in answer.json["message"]
    assert dump(ledger.db) == before


async def test_json_nested_100000_deep_is_a_400(client: ApiClient) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    answer = await client.post(
        "/api/v1/payouts", data=raw, headers={"Content-Type": "application/json"}, token=TOKEN
    )
    assert answer.status == 400
    assert "nested too deeply" in answer.json["message"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer caf\u00e9".encode(),  # valid UTF-8, not ASCII
        b"Bearer \xff\xfe\x80",  # not UTF-8 at all
        b"\xc3\x28 " + TOKEN.encode(),  # garbage scheme
    ],
)
async def test_non_ascii_authorization_is_a_401(
    client: ApiClient, ledger: SqliteLedgerStore, authorization: bytes
) -> None:
    before = dump(ledger.db)
    body = b'{"delegator": "alice", "amount_gwei": "1"}'
    status, answer = await _raw(
        client.base, _post("/api/v1/payouts", body, authorization=authorization)
    )
    assert status == 401, answer
    assert answer["code"] == 401
    assert dump(ledger.db) == before


@pytest.mark.parametrize("cursor", ["zzzz", "garbage!", "alice0", "\u00e9"])
async def test_a_cursor_never_handed_out_is_a_400_not_an_empty_page(
    client: ApiClient, cursor: str
) -> None:
    answer = await client.get("/api/v1/delegators", query={"cursor": cursor})
    assert answer.status == 400
    assert "cursor" in answer.json["message"]


async def test_a_cursor_handed_out_still_pages(client: ApiClient) -> None:
    first = await client.get("/api/v1/delegators", query={"limit": "1"})
    cursor = first.json["meta"]["next_cursor"]
    assert cursor == "alice"
    second = await client.get("/api/v1/delegators", query={"limit": "1", "cursor": cursor})
    assert second.status == 200
    assert [d["id"] for d in second.data] == ["bob"]


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
async def test_a_blank_token_keeps_the_ledger_writes_closed(
    ledger: SqliteLedgerStore, serve_api: ServeApi, blank: str
) -> None:
    client = await serve_api(ledger, token=SecretStr(blank))
    before = dump(ledger.db)
    status, answer = await _raw(
        client.base,
        _post(
            "/api/v1/payouts",
            b'{"delegator": "alice", "amount_gwei": "1"}',
            authorization=b"Bearer ",
        ),
    )
    assert status == 403, answer
    assert dump(ledger.db) == before


async def _doppelganger_server(token: SecretStr | None) -> tuple[HttpServer, list[int]]:
    calls: list[int] = []

    async def check() -> dict[str, object]:
        calls.append(1)
        return {"checked": 0}

    app = build_app(CollectorRegistry(), lambda: None)
    add_doppelganger_route(app, check, token)
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    return server, calls


@pytest.mark.parametrize("authorization", [b"Bearer ", b"Bearer  ", b"bearer"])
async def test_an_empty_http_token_credential_leaves_the_doppelganger_check_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, authorization: bytes
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "http_token").write_text("")  # LoadCredential= of an empty file
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    settings = Settings()
    for token in (settings.http.token, SecretStr("")):  # the config, and a caller passing it raw
        server, calls = await _doppelganger_server(token)
        try:
            status, answer = await _raw(
                server.url,
                _post("/api/v1/doppelganger/check", b"{}", authorization=authorization),
            )
        finally:
            await server.stop()
        assert status == 403, answer
        assert calls == []


async def test_non_ascii_authorization_on_the_doppelganger_check_is_a_401() -> None:
    server, calls = await _doppelganger_server(SecretStr(TOKEN))
    try:
        for authorization in ("Bearer caf\u00e9".encode(), b"Bearer \xff\xfe"):
            status, _answer = await _raw(
                server.url,
                _post("/api/v1/doppelganger/check", b"{}", authorization=authorization),
            )
            assert status == 401
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{server.url}/api/v1/doppelganger/check",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as answer,
        ):
            assert answer.status == 200
    finally:
        await server.stop()
    assert calls == [1]
