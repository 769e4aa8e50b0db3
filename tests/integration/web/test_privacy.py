"""``[web]``: the page is on by default only on a loopback listener, and ``delegator_pages = false``
leaves the pool page up while every delegator URL answers 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.chain.bus import EventBus
from stakepool.config import Settings
from stakepool.ledger.delegations import parse_json
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.publish.http import HttpServer, build_app
from stakepool.publish.web import mount_web
from stakepool.service.money import open_ledger_service

ODD_ID = "acme:pool@eth+1.x_y-z"  # every character class a delegator id may hold


@asynccontextmanager
async def _serve(tmp: Path, *, host: str = "127.0.0.1", **web: object) -> AsyncIterator[str]:
    settings = Settings(
        pool={"id": "beta", "fee_bps": 500},
        ledger={"database": str(tmp / "ledger.sqlite")},
        http={"host": host, "port": 0},
        web=web,
    )
    ledger = open_ledger_service(settings)
    await ledger.store.apply_delegations(
        parse_json(
            {
                "delegations": [
                    {"delegator": "alice", "amount_gwei": "32000000000", "from_epoch": 0},
                    {"delegator": ODD_ID, "amount_gwei": "32000000000", "from_epoch": 0},
                ]
            },
            "test",
        ),
        effective_epoch=0,
        replace_all=False,
    )
    await ledger.settle(EpochSettlementInput(0, 10_000, None, (ValidatorEpochRow(3, 10_000),)))
    app = build_app(CollectorRegistry(), lambda: None)
    mount_web(
        app,
        settings,
        ledger.store,
        EventBus(),
        client=None,
        spec=lambda: None,
        pool=frozenset,
    )
    # Bound on loopback whatever ``host`` says: the setting is what is under test, not the socket.
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
        ledger.close()


async def _status(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.text()


async def test_loopback_listener_serves_pool_and_delegator_pages(tmp_path: Path) -> None:
    async with _serve(tmp_path) as base:
        status, body = await _status(base + "/")
        assert status == 200
        assert "500 bps" in body
        status, body = await _status(base + "/delegators/alice")
        assert status == 200
        assert 'id="accrued-total">4 750 Gwei' in body  # half of 95 % of 10 000 Gwei
        assert (await _status(base + "/delegators/nobody"))[0] == 404


async def test_public_listener_has_no_page_unless_enabled(tmp_path: Path) -> None:
    async with _serve(tmp_path, host="0.0.0.0") as base:
        assert (await _status(base + "/"))[0] == 404
        assert (await _status(base + "/delegators/alice"))[0] == 404
    (tmp_path / "b").mkdir()
    async with _serve(tmp_path / "b", host="0.0.0.0", enabled=True) as base:
        assert (await _status(base + "/"))[0] == 200


async def test_delegator_pages_off_leaves_only_the_pool_page(tmp_path: Path) -> None:
    async with _serve(tmp_path, delegator_pages=False) as base:
        assert (await _status(base + "/"))[0] == 200
        for path in ("/delegators/alice", "/delegators/alice/statements.csv"):
            assert (await _status(base + path))[0] == 404, path


async def test_an_id_with_url_characters_gets_its_page_and_its_download(tmp_path: Path) -> None:
    async with _serve(tmp_path) as base:
        status, body = await _status(base + "/delegators/" + quote(ODD_ID, safe=""))
        assert status == 200
        assert f'id="delegator-id">{ODD_ID}<' in body
        link = body.split('id="csv-link" href="', 1)[1].split('"', 1)[0]
        status, csv_text = await _status(base + link)
        assert status == 200
        assert csv_text.startswith("delegator,period,")
