"""``stakepool ledger export`` on a ledger file holding the §9 worked example."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stakepool.cli import main
from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.store import delegations_sql, ledger_write
from tests.integration import pgkit
from tests.integration.store.ledgerkit import open_db, settle_all
from tests.unit.ledger import worked_example as ex


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    db = open_db(path)
    db.write_sync(
        lambda c: delegations_sql.apply_delegations(c, DelegationSet(ex.DELEGATIONS, "example"))
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


@contextmanager
def _read_only_media(files: dict[str, bytes]) -> Iterator[Path]:
    """A directory holding ``files`` that this process cannot write: a read-only bind mount when
    we are root (root ignores file modes; EROFS binds it too), else modes 0444/0555."""
    media = Path(tempfile.mkdtemp(prefix="stakepool-ro-"))
    for name, content in files.items():
        (media / name).write_bytes(content)
    mounted = False
    try:
        if os.geteuid() == 0:
            subprocess.run(["mount", "--bind", str(media), str(media)], check=True)
            mounted = True
            subprocess.run(["mount", "-o", "remount,ro,bind", str(media)], check=True)
        else:
            for name in files:
                (media / name).chmod(0o444)
            media.chmod(0o555)
        with pytest.raises(OSError):
            (media / "probe").write_bytes(b"")  # the media really is read-only
        yield media
    finally:
        if mounted:
            subprocess.run(
                ["umount", "--lazy", str(media)], check=True
            )  # lazy: a leak must not block
        media.chmod(0o755)
        shutil.rmtree(media)


def test_export_reads_a_ledger_on_read_only_media(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of the ledger on read-only media (a backup disk, a read-only mount): export opens it
    read-only (immutable, as SQLite cannot even create its shared-memory file there) and prints
    the same rows as from the live file."""
    code, expected, _err = _run(
        capsys, "--from", "1000", "--to", "1005", "--database", str(ledger_file), "--format", "json"
    )
    assert code == 0
    with _read_only_media({"ledger.sqlite": ledger_file.read_bytes()}) as media:
        code, out, err = _run(
            capsys,
            *("--from", "1000", "--to", "1005", "--format", "json"),
            *("--database", str(media / "ledger.sqlite")),
        )
        assert sorted(p.name for p in media.iterdir()) == ["ledger.sqlite"]
    assert code == 0, err
    assert out == expected
    assert [int(r["epoch"]) for r in json.loads(out)] == list(range(1000, 1006))
    assert "exported 6 pool row(s)" in err


def test_an_epoch_past_what_the_ledger_holds_is_a_usage_error(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--from", "0", "--to", str(2**64), "--database", str(ledger_file))
    assert code == 2
    assert out == ""
    assert "is not a range of epochs" in err


def test_a_postgresql_ledger_exports_what_the_sqlite_one_does(
    ledger_file: Path, postgres_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export opens a ``postgresql://`` URL read-only, as it opens a file."""
    with pgkit.fresh_database(postgres_admin) as url:
        db = open_db(url)
        db.write_sync(
            lambda c: delegations_sql.apply_delegations(c, DelegationSet(ex.DELEGATIONS, "example"))
        )
        settle_all(db, ex.inputs(), LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive"))
        db.write_sync(lambda c: ledger_write.finalize(c, 1003))
        db.close()
        for kind in ("pool", "delegators", "validators"):
            args = ("--from", "1000", "--to", "1005", "--kind", kind)
            code, on_postgresql, err = _run(capsys, *args, "--database", url)
            assert code == 0, err
            code, on_sqlite, err = _run(capsys, *args, "--database", str(ledger_file))
            assert code == 0, err
            assert on_postgresql == on_sqlite, kind
            assert len(on_sqlite.splitlines()) > 1
