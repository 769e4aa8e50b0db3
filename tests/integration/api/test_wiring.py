"""The API wired as the daemon wires it: ``open_ledger_service(settings)`` and the settings' token."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from stakepool.config import Settings
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.service.money import open_ledger_service
from tests.integration.api.conftest import TOKEN, ApiClient

ODD_ID = "acme:pool@eth+1.x_y-z"  # every character class a delegator id may hold


async def test_daemon_wiring_serves_the_ledger_and_takes_writes(tmp_path: Path) -> None:
    settings = Settings(
        pool={"id": "beta", "fee_bps": 500},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0, "token": TOKEN},
    )
    ledger = open_ledger_service(settings)
    api = LedgerApi(ledger.store, pool_id=settings.pool.id, token=settings.http.token)
    server = HttpServer(
        build_app(CollectorRegistry(), lambda: None, api=api),
        settings.http.host,
        settings.http.port,
    )
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            client = ApiClient(session, server.url)
            body = {
                "delegations": [
                    {"delegator": ODD_ID, "amount_gwei": "32000000000", "from_epoch": 0}
                ]
            }
            applied = await client.post("/api/v1/delegations", body, token=TOKEN)
            assert applied.status == 200
            assert applied.data["effective_epoch"] == 0
            await ledger.settle(
                EpochSettlementInput(0, 10_000, None, (ValidatorEpochRow(3, 10_000),))
            )
            await ledger.finalize(1)
            status = (await client.get("/api/v1/status")).data
            assert (status["pool_id"], status["writes_enabled"], status["last_final_epoch"]) == (
                "beta",
                True,
                0,
            )
            delegator = (await client.get(f"/api/v1/delegators/{ODD_ID}")).data
            # 5 % fee on 10 000 Gwei; the only delegator gets the rest.
            assert delegator["id"] == ODD_ID
            assert delegator["accrued_gwei"] == {"final": "9500", "total": "9500"}
            paid = await client.post(
                "/api/v1/payouts", {"delegator": ODD_ID, "amount_gwei": 9_500}, token=TOKEN
            )
            assert (paid.status, paid.data["claimable_after_gwei"]) == (201, "0")
            epochs = (await client.get(f"/api/v1/delegators/{ODD_ID}/epochs")).data
            assert [(e["epoch"], e["credit_gwei"], e["status"]) for e in epochs] == [
                (0, "9500", "final")
            ]
    finally:
        await server.stop()
        ledger.close()
