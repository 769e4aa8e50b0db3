"""``stakepool ledger export`` on a ledger file holding the §9 worked example."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from stakepool.cli import main
from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.store import ledger_write
from tests.integration.store.ledgerkit import open_db, settle_all
from tests.unit.ledger import worked_example as ex


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    db = open_db(path)
    db.write_sync(
        lambda c: ledger_write.apply_delegations(c, DelegationSet(ex.DELEGATIONS, "example"))
    )
    settle_all(db, ex.inputs(), LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive"))
    db.write_sync(lambda c: ledger_write.finalize(c, 1003))
    db.close()
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ledger", "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_pool_csv_has_every_epoch_with_its_status(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--from", "1000", "--to", "1005", "--database", str(ledger_file))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["reward_gwei"]) for r in rows] == list(ex.POOL_REWARDS.values())
    assert [r["status"] for r in rows] == ["final"] * 3 + ["provisional"] * 3
    assert rows[0]["reward_el_gwei"] == "0"
    assert sum(int(r["fee_gwei"]) for r in rows) == ex.TOTAL_FEE
    assert "exported 6 pool row(s)" in err


def test_delegators_json_sums_to_the_distributed_amount_minus_dust(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _run(
        capsys,
        *("--from", "1000", "--to", "1005", "--format", "json", "--kind", "delegators"),
        *("--database", str(ledger_file)),
    )
    assert code == 0
    items = json.loads(out)
    credits = {i["delegator"]: int(i["credit_gwei"]) for i in items}
    for d, reference in ex.DELEGATOR_TOTALS.items():
        assert abs(credits[d] - reference) <= 1
    assert 0 <= ex.TOTAL_CREDITS - sum(credits.values()) < len(credits)
    assert all(isinstance(i["credit_gwei"], str) for i in items)  # amounts as decimal strings


def test_validators_export_and_bad_arguments(
    ledger_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "v.csv"
    code, _out, _err = _run(
        capsys,
        *("--from", "1001", "--to", "1001", "--kind", "validators"),
        *("--database", str(ledger_file), "--output", str(target)),
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["validator_index"], r["reward_gwei"]) for r in rows] == [
        ("1", "9261"),
        ("2", "-6940"),
        ("3", "18525"),
    ]
    code, _out, err = _run(capsys, "--from", "5", "--to", "4", "--database", str(ledger_file))
    assert code == 2
    assert "not a range of epochs" in err
    code, _out, err = _run(capsys, "--from", "1", "--to", "4", "--database", str(tmp_path / "no"))
    assert code == 2
    assert "no ledger at" in err
