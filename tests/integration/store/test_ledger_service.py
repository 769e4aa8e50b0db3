"""The daemon-facing ledger service: settle/finalize/reorg with events and gauges, on a real file."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from stakepool.config import load_settings
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.publish.ledger_metrics import LedgerMetrics
from stakepool.service.money import open_ledger_service
from stakepool.store import outbox
from tests.integration.money.buses import ledger_bus


async def test_settle_finalize_and_reorg_emit_events_and_set_gauges(tmp_path: Path) -> None:
    (tmp_path / "delegations.csv").write_text(
        "delegator,amount_gwei,from_epoch,to_epoch\nalice,30,0,\nbob,10,0,\n"
    )
    config = tmp_path / "stakepool.toml"
    config.write_text(
        f'[pool]\nid = "alpha"\nfee_bps = 1000\ndelegations_file = "{tmp_path}/delegations.csv"\n'
        "delegations_stable_seconds = 0\n"
        f'[ledger]\ndatabase = "{tmp_path}/ledger.sqlite"\n'
    )
    registry = CollectorRegistry()
    service = open_ledger_service(load_settings(config), ledger_bus(LedgerMetrics(registry)))
    service.now = lambda: 1_700_000_000.0
    watcher = service.delegations_watcher(lambda: None)
    assert watcher is not None
    assert await watcher.check_once() is not None

    row = ValidatorEpochRow(5, 1000, {"head": 1000}, 0, True)
    for epoch in range(3):
        await service.settle(EpochSettlementInput(epoch, 1000, None, (row,)))
    assert await service.finalize(2) == [0, 1]
    assert await service.reorg(2, reason="chain_reorg depth 3") == [2]
    await service.settle(EpochSettlementInput(2, 400, None, (row,)))

    events = service.store.db.read_sync(lambda c: outbox.pending(c, 100))
    kinds = [e.kind for e in events]
    assert kinds == [
        "epoch_settled",
        "epoch_settled",
        "epoch_settled",
        "epoch_finalized",
        "epoch_finalized",
        "epochs_reversed",
        "epoch_settled",
    ]
    last = json.loads(events[-1].payload)
    assert last["pool_id"] == "alpha"
    assert last["chain"]["epoch"] == 2
    assert last["data"]["reward_gwei"] == "400"
    assert last["data"]["fee_gwei"] == "40"

    def gauge(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert gauge("stakepool_pool_rewards_gwei", status="provisional") == 400
    assert gauge("stakepool_pool_rewards_gwei", status="final") == 2000
    assert gauge("stakepool_pool_fees_gwei", status="provisional") == 40
    assert gauge("stakepool_pool_delegators") == 2
    assert gauge("stakepool_pool_principal_gwei") == 40
    assert gauge("stakepool_ledger_settled_epoch", status="final") == 1
    assert gauge("stakepool_rewards_residual_gwei") == 0
    service.close()
