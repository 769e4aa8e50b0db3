"""A real SQLite ledger, populated through the ledger's own API, served by the real HTTP app.

The ledger (policy: 10 % fee on each positive epoch, losses socialised) has three delegators and two
validators over six settled epochs; the chain finalized epoch 4, so epochs 0–3 are final and 4–5
provisional. ``ApiClient`` checks every answer against the OpenAPI document before a test sees it.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from stakepool.ledger.delegations import parse_json
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.publish.api import LedgerApi
from stakepool.publish.http import HttpServer, build_app
from stakepool.store.database import Database
from tests.integration.api.contract import validate_answer, validate_request

TOKEN = "correct horse battery staple"
POOL_ID = "alpha"
POLICY = LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive", loss_policy="socialized")
GWEI = 10**9

DELEGATIONS: dict[str, Any] = {
    "delegations": [
        {"delegator": "alice", "amount_gwei": 32 * GWEI, "from_epoch": 0},
        {"delegator": "bob", "amount_gwei": 96 * GWEI, "from_epoch": 0},
        {"delegator": "carol", "amount_gwei": 32 * GWEI, "from_epoch": 2, "to_epoch": 4},
    ]
}


def _row(index: int, reward: int, **kwargs: Any) -> ValidatorEpochRow:
    return ValidatorEpochRow(validator_index=index, reward_gwei=reward, **kwargs)


def _explained(
    index: int, reward: int, *, included: bool = True, **kwargs: Any
) -> ValidatorEpochRow:
    components = {"head": reward // 4, "source": reward // 4, "target": reward - 2 * (reward // 4)}
    return _row(
        index,
        reward,
        components_gwei=components,
        residual_gwei=0,
        attestation_included=included,
        **kwargs,
    )


EPOCHS: list[EpochSettlementInput] = [
    EpochSettlementInput(0, 22_000, None, (_explained(10, 10_000), _explained(11, 12_000))),
    EpochSettlementInput(
        1,
        8_000,
        1_500 * GWEI + 500,  # wei: 1500 Gwei and a sub-Gwei carry
        (_explained(10, 11_000), _explained(11, -3_000, included=False)),
    ),
    EpochSettlementInput(
        2, 30_000, None, (_explained(10, 18_000, proposals=1), _explained(11, 12_000))
    ),
    # The node could not explain epoch 3 (no rewards endpoint): components and residual unknown.
    EpochSettlementInput(3, -5_000, None, (_row(10, -2_500), _row(11, -2_500))),
    EpochSettlementInput(4, 20_000, 0, (_explained(10, 10_000), _explained(11, 10_000))),
    EpochSettlementInput(
        5,
        20_001,
        None,
        (_explained(10, 10_001), _explained(11, 10_000, proposals=1, proposals_missed=1)),
    ),
]
FINALIZED_EPOCH = 4  # → epochs 0..3 final
VALIDATORS = (10, 11)


async def populate(store: SqliteLedgerStore) -> None:
    await store.apply_delegations(parse_json(DELEGATIONS, "test"), replace_all=True)
    for inp in EPOCHS:
        await store.settle(inp)
    await store.finalize(FINALIZED_EPOCH)


def dump(db: Database) -> list[str]:
    """Every row of every table: equal dumps mean an untouched ledger."""
    return db.read_sync(lambda conn: list(conn.iterdump()))


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteLedgerStore]:
    db = Database.open(tmp_path / "ledger.sqlite")
    store = SqliteLedgerStore(db, pool_id=POOL_ID, policy=POLICY)
    await populate(store)
    yield store
    db.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def data(self) -> Any:
        return self.json["data"]


class ApiClient:
    """Talks to the server over loopback; every answer is checked against the OpenAPI document."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        data: bytes | io.BytesIO | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        check_contract: bool = True,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.base + path, params=query, data=data, headers=sent
        ) as response:
            answer = Answer(response.status, dict(response.headers), await response.read())
        assert answer.headers.get("Cache-Control") == "no-store", (path, answer.headers)
        if check_contract and answer.status < 300 and isinstance(data, bytes):
            # What the server accepted, the document must accept too.
            validate_request(method, path, body=data, headers=sent, query=query)
        if check_contract:
            validate_answer(
                method,
                path,
                status=answer.status,
                body=answer.raw,
                headers=answer.headers,
                query=query,
            )
        return answer

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.request("POST", path, body=body, **kwargs)


ServeApi = Callable[..., Awaitable[ApiClient]]


@pytest.fixture
async def serve_api() -> AsyncIterator[ServeApi]:
    """``await serve_api(store, token=...)``: the daemon's HTTP app with the API, on 127.0.0.1."""
    servers: list[HttpServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def serve(
        store: SqliteLedgerStore, *, token: SecretStr | str | None = TOKEN
    ) -> ApiClient:
        api = LedgerApi(store, pool_id=POOL_ID, token=token)
        server = HttpServer(build_app(CollectorRegistry(), lambda: None, api=api), "127.0.0.1", 0)
        await server.start()
        servers.append(server)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        sessions.append(session)
        return ApiClient(session, server.url)

    yield serve
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()


@pytest.fixture
async def client(ledger: SqliteLedgerStore, serve_api: ServeApi) -> ApiClient:
    return await serve_api(ledger)
