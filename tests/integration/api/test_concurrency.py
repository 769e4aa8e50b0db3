"""Readers beside the writer: answers taken while epochs settle are each a consistent snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from tests.integration.api.conftest import ApiClient

NEW_EPOCHS = range(6, 16)


def _balanced(pool: dict[str, Any], side: str) -> bool:
    parts = ("fees_gwei", "operator_bond_delta_gwei", "unassigned_gwei", "distributed_gwei")
    return int(pool["rewards_gwei"][side]) == sum(int(pool[p][side]) for p in parts)


async def test_reads_during_settlement_are_consistent(
    client: ApiClient, ledger: SqliteLedgerStore
) -> None:
    async def settle_all() -> None:
        for k in NEW_EPOCHS:
            rows = (ValidatorEpochRow(10, 1_000 * k), ValidatorEpochRow(11, -7 * k))
            await ledger.settle(EpochSettlementInput(k, 1_000 * k - 7 * k, None, rows))
            await ledger.finalize(k - 1)

    async def read_pool() -> list[dict[str, Any]]:
        answers = []
        for _ in range(15):
            answers.append((await client.get("/api/v1/pool")).data)
        return answers

    _, *readers = await asyncio.gather(settle_all(), read_pool(), read_pool(), read_pool())
    for answers in readers:
        settled = [a["last_settled_epoch"] for a in answers]
        assert settled == sorted(settled)  # a reader never sees the ledger go back
        for pool in answers:
            assert _balanced(pool, "final")
            assert _balanced(pool, "total")
    final = (await client.get("/api/v1/pool")).data
    assert (final["last_settled_epoch"], final["last_final_epoch"]) == (15, 13)
    rows = (await client.get("/api/v1/validators/11/epochs", query={"from": "6"})).data
    assert [int(r["reward_gwei"]) for r in rows] == [-7 * k for k in NEW_EPOCHS]
