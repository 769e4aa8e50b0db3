"""``stakepool ledger statement`` on a real ledger file: CSV a tax tool imports, JSON like the API."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from stakepool.cli import main
from stakepool.ledger.statement_format import CSV_COLUMNS, statement_json
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.store.database import Database
from tests.integration.api.conftest import POLICY, POOL_ID, populate
from tests.integration.api.test_statements import CLOCK

PERIOD = 2


@pytest.fixture
async def ledger_file(tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "ledger.sqlite"
    store = SqliteLedgerStore(
        Database.open(path), pool_id=POOL_ID, policy=POLICY, period_epochs=PERIOD
    )
    await store.set_clock(CLOCK)
    await populate(store)
    store.db.close()
    config = tmp_path / "stakepool.toml"
    config.write_text(
        f'[pool]\nid = "{POOL_ID}"\n[ledger]\ndatabase = "{path}"\nstatement_period_epochs = {PERIOD}\n'
    )
    return path, config


def _run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["ledger", "statement", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


async def test_csv_has_one_row_per_period_with_exact_eth(
    ledger_file: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _path, config = ledger_file
    code, out, err = _run(capsys, config, "--delegator", "bob", "--period", "0..5")
    assert code == 0, err
    assert out.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["period"] for r in rows] == ["0", "1", "2"]  # period 3+ not closed
    assert [r["status"] for r in rows] == ["final", "final", "provisional"]
    assert rows[0]["start_time_utc"] == "2026-01-31T23:40:00.000Z"
    for row in rows:
        for column, value in row.items():
            if column.endswith("_eth") and value != "unknown":
                # Exact: the ETH string is the Gwei amount over 10⁹, nine decimals, no float.
                gwei = Decimal(row[column.removesuffix("_eth") + "_gwei"])
                assert Decimal(value) == gwei / 10**9
                assert len(value.split(".")[1]) == 9
    assert rows[0]["el_credit_eth"] == "unknown"  # epoch 0 had no EL figure
    assert "3 statement(s) of 'bob', 1 provisional" in err


async def test_json_is_the_api_statement_and_month_rolls_up(
    ledger_file: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path, config = ledger_file
    code, out, err = _run(
        capsys, config, "--delegator", "alice", "--period", "1", "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    store = SqliteLedgerStore(
        Database.open(path), pool_id=POOL_ID, policy=POLICY, period_epochs=PERIOD
    )
    expected = await store.statements("alice", 1, 1)
    store.db.close()
    assert expected is not None
    assert doc["data"] == [statement_json(v) for v in expected]
    code, out, err = _run(capsys, config, "--delegator", "alice", "--month", "2026-01")
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["month"], row["first_epoch"], row["last_epoch"]) == ("2026-01", "0", "3")


async def test_bad_requests_exit_nonzero_with_a_reason(
    ledger_file: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _path, config = ledger_file
    code, _out, err = _run(capsys, config, "--delegator", "nobody", "--period", "0")
    assert code == 3
    assert "'nobody' is not in the ledger" in err
    code, _out, err = _run(capsys, config, "--delegator", "bob", "--month", "2026-13")
    assert code == 2
    assert "YYYY-MM" in err
    code, _out, err = _run(capsys, config, "--delegator", "bob")
    assert code == 2
    assert "give one of --period or --month" in err
    with pytest.raises(SystemExit):
        main(["ledger", "statement", "--config", str(config), "--delegator", "bob",
              "--period", "0", "--month", "2026-01"])  # fmt: skip
