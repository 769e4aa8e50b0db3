"""Every ledger reader's answer for one ledger file, as JSON (the migration test's yardstick).

Run with the release that wrote the fixture (schema 4, before the compact detail; ``tests/fixtures/ledger_before_compact/``) to record
``answers.json``; the test runs it with today's code on a migrated copy and compares:

    PYTHONPATH=. python tests/integration/store/ledger_answers.py LEDGER.sqlite OUT.json

Readers: status, pool totals and epochs, validators, every validator's per-epoch history, every
delegator (detail, epochs, statements), commitments, and the export of every kind as CSV.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import sys
from pathlib import Path
from typing import Any

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import EpochRange
from stakepool.ledger.store import export
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database

PERIOD_EPOCHS = 4
"""Short statement periods so a short simulated run has closed ones."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # exact beyond 2^53 once in JSON
    return value


async def answers(path: Path) -> dict[str, Any]:
    db = Database.open(path)
    store = SqliteLedgerStore(
        db, pool_id="pool", policy=LedgerPolicy(fee_bps=1000), period_epochs=PERIOD_EPOCHS
    )
    try:
        out: dict[str, Any] = {
            "status": await store.status(),
            "pool_epochs": await store.pool_epochs(EpochRange()),
            "validators": await store.validators(),
        }
        for v in out["validators"]:
            out[f"validator {v.validator_index}"] = await store.validator_epochs(
                v.validator_index, EpochRange()
            )
        page = await store.delegators(limit=1000)
        out["delegators"] = page
        for d in page.items:
            out[f"delegator {d.id}"] = await store.delegator(d.id)
            out[f"delegator {d.id} epochs"] = await store.delegator_epochs(d.id, EpochRange())
            out[f"delegator {d.id} statements"] = await store.statements(d.id, None, None)
        out["commitments"] = await store.commitments(0, 10**6)
        status = out["status"]
        last = status.last_settled_epoch or 0

        def exports(conn: Any) -> dict[str, str]:
            texts = {}
            for kind in ("pool", "validators", "delegators"):
                buffer = io.StringIO()
                export.write(buffer, export.table(conn, kind, 0, last), "csv")
                texts[kind] = buffer.getvalue()
            return texts

        out["export"] = await db.read(exports)
        return {k: _plain(v) for k, v in out.items()}
    finally:
        db.close()


if __name__ == "__main__":
    result = asyncio.run(answers(Path(sys.argv[1])))
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
