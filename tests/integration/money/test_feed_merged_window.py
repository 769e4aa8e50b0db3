"""When no node serves a window's states any more, the span between the last kept state and the
next readable one is settled as ONE merged window (issue 12, item 3c): exact in total over the
span (the sum is what the balances say), every epoch of it marked merged in the ledger rows, the
API and the export, with a warning event in the outbox, a log line and a metric. Epochs around
the span are settled from their own windows, exactly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.feed import LedgerFeed
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.export import pool_table
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore, open_ledger
from stakepool.publish.api import encode
from stakepool.publish.ledger_metrics import LedgerMetrics
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.tracker import RewardsTracker
from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.money.buses import ledger_bus
from tests.integration.money.moneykit import POOL, SCENARIO, SPE, sim_truth

FAST = (0.01, 0.02)
KEPT_EPOCHS = 3
"""The pruning node serves the states of its last three epochs (and every block)."""


async def _spec(client: BeaconClient) -> ChainSpec:
    genesis = await client.node.genesis()
    return ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )


async def _feed(
    client: BeaconClient, store: SqliteLedgerStore, registry: CollectorRegistry
) -> LedgerFeed:
    fetcher = RewardsFetcher(client, await _spec(client))
    ledger = LedgerService(store, ledger_bus(LedgerMetrics(registry)), now=lambda: 1.0)
    return LedgerFeed(RewardsTracker(fetcher, lambda: POOL), ledger, retry_delays=FAST)


def _open(path: Path) -> SqliteLedgerStore:
    return open_ledger(str(path), pool_id="p", policy=LedgerPolicy())


async def test_states_no_node_serves_are_settled_as_one_merged_window(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    # The sim keeps its own books for every epoch (history_epochs): the truth to compare with.
    chain = SimChain(
        SimConfig(
            validators=64, seed=11, genesis_time=1_700_000_000, scenario=SCENARIO, history_epochs=64
        )
    )
    chain.advance_to(4 * SPE + 1)
    server = await serve_sim(chain)
    client = sim_client(server.url, retries=0)
    db = tmp_path / "l.sqlite"
    first = await _feed(client, _open(db), CollectorRegistry())
    assert await first.on_epoch_closed(3) == [2]  # window 3 is read ahead and kept
    # The daemon is down for nine epochs; the node prunes every state but its last epochs'.
    chain.advance_to(13 * SPE + 1)
    server.faults.state_history_slots = KEPT_EPOCHS * SPE
    registry = CollectorRegistry()
    store = _open(db)
    await store.apply_delegations(DelegationSet((Delegation("alice", 32 * 10**9, 0),), "test"))
    restarted = await _feed(client, store, registry)
    with structlog.testing.capture_logs() as logs:
        written = await restarted.on_epoch_closed(13)
    assert written == list(range(3, 13))  # nothing skipped, nothing blocked
    merged_logs = [e for e in logs if e["event"] == "ledger_window_merged"]
    assert [(e["first_epoch"], e["last_epoch"], e["log_level"]) for e in merged_logs] == [
        (4, 10, "warning")
    ]  # LAST(10) is the oldest state the node still serves
    span = range(4, 11)

    for v in POOL:
        rows = {r.epoch: r.reward_gwei for r in await store.validator_epochs(v, EpochRange(3, 12))}
        assert sorted(rows) == list(range(3, 13))
        # Exact in total over the span: what the balances (and withdrawals, deposits) say.
        assert sum(rows[e] for e in span) == sum(sim_truth(chain, e, v) for e in span), v
        for e in (3, 11, 12):  # settled from their own windows: exact per epoch
            assert rows[e] == sim_truth(chain, e, v), (e, v)

    # Marked merged in the ledger rows, the API and the export.
    epochs = await store.pool_epochs(EpochRange(3, 12))
    assert {e.epoch: e.merged for e in epochs} == {
        **dict.fromkeys(span, (4, 10)),
        3: None,
        11: None,
        12: None,
    }
    assert encode.pool_epoch(epochs[1])["merged"] == {"from_epoch": 4, "to_epoch": 10}
    assert encode.pool_epoch(epochs[0])["merged"] is None
    rows = await store.validator_epochs(POOL[0], EpochRange(3, 12))
    assert [encode.validator_epoch(r)["merged"] for r in rows] == [
        None,
        *[{"from_epoch": 4, "to_epoch": 10}] * len(span),
        None,
        None,
    ]
    statement = await store.delegator_epochs("alice", EpochRange(3, 12))
    assert statement is not None
    assert [s.merged for s in statement] == [None, *[(4, 10)] * len(span), None, None]
    # Conservation over the span: alice, the only delegator, is credited what the span
    # distributed, to the Gwei (the accumulator's dust stays below one Gwei per epoch).
    distributed = sum(e.distributed_gwei for e in epochs if e.epoch in span)
    credited = sum(s.credit_gwei for s in statement if s.epoch in span)
    assert distributed - len(span) <= credited <= distributed
    assert sum(e.reward_gwei for e in epochs if e.epoch in span) == sum(
        e.fee_gwei + e.distributed_gwei for e in epochs if e.epoch in span
    )
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        table = pool_table(conn, 3, 12)
        exported = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
        outbox = [
            json.loads(r[0])
            for r in conn.execute(
                "SELECT payload FROM outbox WHERE kind = 'ledger_window_merged' ORDER BY id"
            )
        ]
    finally:
        conn.close()
    assert [(r["epoch"], r["merged_from"], r["merged_to"]) for r in exported][:3] == [
        (3, None, None),
        (4, 4, 10),
        (5, 4, 10),
    ]
    # A warning event (for MQTT, through the outbox) and a metric.
    assert [(e["severity"], e["data"]["from_epoch"], e["data"]["to_epoch"]) for e in outbox] == [
        ("warning", 4, 10)
    ]
    assert registry.get_sample_value("stakepool_ledger_merged_epochs_total") == len(span)


async def test_an_archive_node_is_asked_before_merging(
    tmp_path: Path, serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = SimChain(
        SimConfig(
            validators=64, seed=11, genesis_time=1_700_000_000, scenario=SCENARIO, history_epochs=64
        )
    )
    chain.advance_to(4 * SPE + 1)
    pruning = await serve_sim(chain)
    archive = await serve_sim(chain)  # the same chain, every state kept
    client = sim_client(pruning.url, retries=0)
    db = tmp_path / "l.sqlite"
    first = await _feed(client, _open(db), CollectorRegistry())
    assert await first.on_epoch_closed(3) == [2]
    chain.advance_to(13 * SPE + 1)
    pruning.faults.state_history_slots = KEPT_EPOCHS * SPE
    fetcher = RewardsFetcher(client, await _spec(client))
    archived = RewardsTracker(
        RewardsFetcher(sim_client(archive.url, retries=0), fetcher.spec), lambda: POOL
    )
    restarted = LedgerFeed(
        RewardsTracker(fetcher, lambda: POOL),
        LedgerService(_open(db), events=False),
        retry_delays=FAST,
        archive=archived,
    )
    with structlog.testing.capture_logs() as logs:
        assert await restarted.on_epoch_closed(13) == list(range(3, 13))
    assert not [e for e in logs if e["event"] == "ledger_window_merged"]
    from_archive = [e["epoch"] for e in logs if e["event"] == "ledger_window_from_archive"]
    assert from_archive == list(range(4, 11))  # the windows the pruning node cannot serve
    store = restarted.ledger.store
    assert all(e.merged is None for e in await store.pool_epochs(EpochRange(3, 12)))
    for v in POOL:
        rows = await store.validator_epochs(v, EpochRange(3, 12))
        assert [r.reward_gwei for r in rows] == [sim_truth(chain, e, v) for e in range(3, 13)]
