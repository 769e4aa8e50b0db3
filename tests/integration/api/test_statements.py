"""Statements, commitments and proofs over the real SQLite ledger and HTTP app.

The API fixture's ledger (three delegators, six epochs, 0–3 final) with periods of 2 epochs:
periods 0 and 1 are final (committed when epoch 3 became final), period 2 is closed but provisional.
Every answer is checked against the OpenAPI document by ``ApiClient``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stakepool.chain.clock import ChainClock
from stakepool.ledger.commitments import leaf_hash, root_from_proof
from stakepool.ledger.delegations import parse_json
from stakepool.ledger.service import LedgerService
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.statement_format import leaf_from_json
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.ledger.store.statements_sql import period_statements
from stakepool.store import outbox
from stakepool.store.database import Database
from tests.integration.api.conftest import EPOCHS, POLICY, POOL_ID, ServeApi, populate

PERIOD = 2
DELEGATORS = ("alice", "bob", "carol")
# 2026-01-31T23:40:00Z: with 12 s slots and 32 slots per epoch (384 s), epochs 0–3 start in
# January and epoch 4 at 00:05:36 on 1 February.
CLOCK = ChainClock(1_769_902_800, 12_000, 32)


async def _ledger(tmp_path: Path) -> SqliteLedgerStore:
    store = SqliteLedgerStore(
        Database.open(tmp_path / "ledger.sqlite"),
        pool_id=POOL_ID,
        policy=POLICY,
        period_epochs=PERIOD,
    )
    await store.set_clock(CLOCK)
    await populate(store)
    return store


def _gwei(doc: dict[str, Any], name: str) -> int:
    return int(doc[f"{name}_gwei"])


async def test_statements_equal_the_epoch_rows_and_the_pool_adds_up(
    tmp_path: Path, serve_api: ServeApi
) -> None:
    store = await _ledger(tmp_path)
    client = await serve_api(store)
    pool_rows = (await client.get("/api/v1/pool/epochs", query={"from": "0", "to": "5"})).data
    by_period: dict[int, list[dict[str, Any]]] = {}
    for delegator in DELEGATORS:
        answer = await client.get(f"/api/v1/delegators/{delegator}/statements")
        assert answer.json["meta"] == {"period_epochs": PERIOD}
        epochs = (
            await client.get(f"/api/v1/delegators/{delegator}/epochs", query={"from": "0"})
        ).data
        previous_closing = 0
        for s in answer.data:
            by_period.setdefault(s["period"], []).append(s)
            rows = [e for e in epochs if s["first_epoch"] <= e["epoch"] <= s["last_epoch"]]
            # The statement is the sum of the delegator's ledger rows of the period.
            assert _gwei(s, "net_credit") == sum(int(e["credit_gwei"]) for e in rows)
            assert _gwei(s, "opening_balance") == previous_closing
            assert _gwei(s, "closing_balance") == (
                _gwei(s, "opening_balance")
                + _gwei(s, "principal_in")
                - _gwei(s, "principal_out")
                + _gwei(s, "net_credit")
            )
            previous_closing = _gwei(s, "closing_balance")
    assert sorted(by_period) == [0, 1, 2]  # only closed periods
    assert {s["delegator"] for s in by_period[0]} == {"alice", "bob"}  # carol joins at 2
    assert {s["delegator"] for s in by_period[2]} == set(DELEGATORS)  # carol leaves at 4
    carol = next(s for s in by_period[2] if s["delegator"] == "carol")
    assert _gwei(carol, "principal_out") == 32 * 10**9
    for period, statements in by_period.items():
        first, last = period * PERIOD, period * PERIOD + PERIOD - 1
        rows = [r for r in pool_rows if first <= r["epoch"] <= last]
        assert {s["status"] for s in statements} == {
            "final" if all(r["status"] == "final" for r in rows) else "provisional"
        }
        # EL of epochs 0 and 2 is unknown (no execution client): "unknown", never 0.
        el_known = all(r["reward_el_gwei"] is not None for r in rows)
        assert {s["el_credit_gwei"] == "unknown" for s in statements} == {not el_known}
        reward = sum(int(r["reward_gwei"]) for r in rows)
        fees = sum(int(r["fee_gwei"]) for r in rows)
        distributed = sum(int(r["distributed_gwei"]) for r in rows)
        credited = sum(_gwei(s, "net_credit") for s in statements)
        dust = distributed - credited
        assert credited + fees + dust == reward  # no bond, nothing unassigned in this pool
        assert 0 <= abs(dust) < len(DELEGATORS)
        assert statements[0]["start_time"] is not None
    assert by_period[0][0]["start_time"] == "2026-01-31T23:40:00.000Z"
    assert by_period[0][0]["end_time"] == "2026-01-31T23:52:48.000Z"
    store.db.close()


async def test_a_final_statement_never_changes(tmp_path: Path, serve_api: ServeApi) -> None:
    store = await _ledger(tmp_path)
    client = await serve_api(store)
    before = {
        d: (await client.get(f"/api/v1/delegators/{d}/statements", query={"to": "1"})).raw
        for d in DELEGATORS
    }
    proofs = (await client.get("/api/v1/delegators/alice/proofs/0")).raw
    for epoch in (6, 7, 8):
        await store.settle(EpochSettlementInput(epoch, 50_000 + epoch, None, EPOCHS[4].validators))
    await store.finalize(9)
    for d in DELEGATORS:
        after = await client.get(f"/api/v1/delegators/{d}/statements", query={"to": "1"})
        assert after.raw == before[d]
    assert (await client.get("/api/v1/delegators/alice/proofs/0")).raw == proofs
    # Period 2 became final meanwhile and is committed now; period 3 (6–7) too; 4 is not closed.
    assert [c["period"] for c in (await client.get("/api/v1/commitments")).data] == [0, 1, 2, 3]
    store.db.close()


async def test_every_proof_leads_to_the_published_root(tmp_path: Path, serve_api: ServeApi) -> None:
    store = await _ledger(tmp_path)
    client = await serve_api(store)
    commitments = (await client.get("/api/v1/commitments", query={"from": "0", "to": "9"})).data
    assert [c["period"] for c in commitments] == [0, 1]
    for c in commitments:
        assert (await client.get(f"/api/v1/commitments/{c['period']}")).data == c
        statements = store.db.read_sync(
            lambda conn, c=c: period_statements(conn, c["first_epoch"], c["last_epoch"])[2]
        )
        assert c["leaves"] == len(statements)
        for s in statements:
            proof = (
                await client.get(f"/api/v1/delegators/{s.delegator}/proofs/{c['period']}")
            ).data
            leaf = leaf_from_json(proof["leaf"])
            assert leaf.encode().hex() == proof["leaf_bytes"]
            assert leaf.hash().hex() == proof["leaf_hash"]
            assert leaf.cl_credit_gwei == s.cl_credit_gwei
            assert leaf.closing_balance_gwei == s.closing_balance_gwei
            root = root_from_proof(
                leaf_hash(bytes.fromhex(proof["leaf_bytes"])),
                proof["index"],
                proof["tree_size"],
                [bytes.fromhex(h) for h in proof["proof"]],
            )
            assert root.hex() == c["root"]
    # carol took no part in period 0; period 2 is not final: no proof.
    assert (await client.get("/api/v1/delegators/carol/proofs/0")).status == 404
    assert (await client.get("/api/v1/delegators/alice/proofs/2")).status == 404
    assert (await client.get("/api/v1/commitments/2")).status == 404
    assert (await client.get("/api/v1/delegators/nobody/proofs/0")).status == 404
    store.db.close()


async def test_a_month_rolls_up_its_periods(tmp_path: Path, serve_api: ServeApi) -> None:
    store = await _ledger(tmp_path)
    client = await serve_api(store)
    periods = (await client.get("/api/v1/delegators/bob/statements")).data
    (january,) = (
        await client.get("/api/v1/delegators/bob/statements", query={"month": "2026-01"})
    ).data
    assert (january["first_epoch"], january["last_epoch"]) == (0, 3)
    assert january["month"] == "2026-01"
    assert january["period"] is None
    assert january["status"] == "final"
    for name in ("net_credit", "fee", "losses", "principal_in", "principal_out"):
        assert _gwei(january, name) == sum(_gwei(p, name) for p in periods[:2])
    assert january["closing_balance_gwei"] == periods[1]["closing_balance_gwei"]
    # February is not closed yet (epoch 4 onwards, the ledger has settled up to 5 only).
    feb = await client.get("/api/v1/delegators/bob/statements", query={"month": "2026-02"})
    assert feb.data == []
    store.db.close()


async def test_bad_statement_requests_are_clear_400s(tmp_path: Path, serve_api: ServeApi) -> None:
    store = await _ledger(tmp_path)
    client = await serve_api(store)
    for query in (
        {"month": "2026-13"},
        {"month": "2026-01", "from": "0"},
        {"from": "3", "to": "1"},
        {"from": "-1"},
        {"from": "0", "to": "100000"},
    ):
        answer = await client.get("/api/v1/delegators/bob/statements", query=query)
        assert answer.status == 400, (query, answer.json)
        assert answer.json["message"]
    assert (await client.get("/api/v1/delegators/nobody/statements")).status == 404
    assert (await client.get("/api/v1/delegators/bob/proofs/x")).status == 400
    store.db.close()


async def test_finalization_publishes_the_commitment_through_the_outbox(tmp_path: Path) -> None:
    store = SqliteLedgerStore(
        Database.open(tmp_path / "ledger.sqlite"), pool_id=POOL_ID, policy=POLICY, period_epochs=2
    )
    service = LedgerService(store, now=lambda: 1_769_902_800.0)
    await store.apply_delegations(
        parse_json(
            {"delegations": [{"delegator": "alice", "amount_gwei": 32, "from_epoch": 0}]}, "t"
        )
    )
    for inp in EPOCHS[:4]:
        await service.settle(inp)
    await service.finalize(4)
    events = store.db.read_sync(lambda c: outbox.pending(c, 100))
    committed = [json.loads(e.payload) for e in events if e.kind == "period_committed"]
    roots = {c.period: c.root for c in await store.commitments(0, 10)}
    assert [(e["data"]["period"], e["data"]["root"]) for e in committed] == sorted(roots.items())
    assert len(committed) == 2
    store.db.close()
