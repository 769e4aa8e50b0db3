"""A ledger written before the compact detail (schema 4, by a simulated run of the release
before it) migrates in place, and every reader answers exactly as that release answered."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from stakepool.store import detail_migration
from stakepool.store.database import Database, DatabaseError
from stakepool.store.detail_pack import DetailRow
from tests.integration.store.ledger_answers import answers

FIXTURE = Path(__file__).parents[2] / "fixtures" / "ledger_before_compact"


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    shutil.copyfile(FIXTURE / "ledger.sqlite", path)
    return path


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def _without_later_fields(answer: Any) -> Any:
    """The answer as the fixture's release gave it: fields added since (``merged``, which marks a
    share of a merged window) must be empty on this ledger and are left out."""
    if isinstance(answer, list):
        return [_without_later_fields(a) for a in answer]
    if isinstance(answer, dict):
        assert answer.get("merged") is None, answer
        # Retention came later too: every row of this ledger is at epoch resolution.
        assert answer.get("resolution", "epoch") == "epoch", answer
        return {
            k: _without_later_fields(v)
            for k, v in answer.items()
            if k not in ("merged", "resolution")
        }
    return answer


def _csv_without_later_fields(text: str) -> list[dict[str, str]]:
    """An export's rows without the merged-window and resolution columns added since."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        assert row.pop("merged_from", "") == "", row
        assert row.pop("merged_to", "") == "", row
        if "resolution" in row:  # the validators' export: at epoch resolution, one epoch each
            assert row.pop("resolution") == "epoch", row
            assert row.pop("last_epoch") == row["epoch"], row
            assert row.pop("epochs") == "1", row
            att = row["attestation_included"]
            assert row.pop("attestations_included") == {"true": "1", "false": "0"}.get(att, "")
            assert row.pop("attestations_missed") == {"true": "0", "false": "1"}.get(att, "")
    return rows


async def test_an_old_ledger_migrates_and_every_reader_answers_the_same(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    conn = sqlite3.connect(path)
    old_rows = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT epoch) FROM validator_epochs"
    ).fetchone()
    conn.close()
    assert old_rows[0] > 100  # a real run: many validator-epochs, several epochs

    got = await answers(path)  # opens with today's code: the migration runs first

    expected = json.loads((FIXTURE / "answers.json").read_text())
    assert got.keys() == expected.keys()
    for key in expected:
        if key == "export":
            for kind, text in got[key].items():
                assert _csv_without_later_fields(text) == list(
                    csv.DictReader(io.StringIO(expected[key][kind]))
                ), kind
            continue
        assert _without_later_fields(json.loads(json.dumps(got[key]))) == expected[key], key
    tables = _tables(path)
    assert "validator_epochs" not in tables
    assert "validator_epoch_detail" in tables
    conn = sqlite3.connect(path)
    converted = conn.execute(
        "SELECT SUM(validators), COUNT(*) FROM validator_epoch_detail"
    ).fetchone()
    conn.close()
    assert tuple(converted) == tuple(old_rows)


async def test_a_conversion_that_would_change_a_figure_is_refused_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy(tmp_path)
    before = path.read_bytes()
    real = detail_migration.split

    def lossy(rows: list[DetailRow]) -> tuple[bytes, bytes | None]:
        # A packing bug that loses one Gwei of one validator.
        first = rows[0]
        return real(
            [DetailRow(first.validator_index, first.reward_gwei + 1, *_rest(first)), *rows[1:]]
        )

    monkeypatch.setattr(detail_migration, "split", lossy)
    with pytest.raises(
        DatabaseError, match=r"compact_detail failed: epoch \d+: the packed detail differs"
    ):
        Database.open(path)
    tables = _tables(path)
    assert "validator_epochs" in tables  # rolled back: the old rows stand
    assert "validator_epoch_detail" not in tables
    conn = sqlite3.connect(path)
    applied = {name for (name,) in conn.execute("SELECT name FROM schema_migrations")}
    assert "compact_detail" not in applied  # earlier migrations stand, each in its own transaction
    conn.close()
    monkeypatch.setattr(detail_migration, "split", real)
    Database.open(path).close()  # fixed release: converts
    assert "validator_epochs" not in _tables(path)
    assert before  # the original fixture was only read


def _rest(r: DetailRow) -> tuple[object, ...]:
    return (
        r.components_gwei,
        r.residual_gwei,
        r.attestation_included,
        r.proposals,
        r.proposals_missed,
    )
