"""The command line: version, check-config (exit 2 on a bad value), argument checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stakepool import __version__
from stakepool.cli import EXIT_CONFIG, main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"stakepool {__version__}"


def test_check_config_prints_effective_config_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "http_token").write_text("very-secret")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("STAKEPOOL_POOL__FEE_BPS", "250")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[pool]\nid = "alpha"\nvalidators = [3, "4,grp"]\n')
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "very-secret" not in out
    effective = json.loads(out)
    assert effective["http"]["token"] == "**********"
    assert effective["pool"]["id"] == "alpha"
    assert effective["pool"]["fee_bps"] == 250
    assert effective["pool"]["validators"] == [
        {"id": "3", "label": None},
        {"id": "4", "label": "grp"},
    ]


def test_check_config_accepts_a_postgresql_url_and_masks_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[pool]\nid = "alpha"\nvalidators = [3]\n'
        '[ledger]\ndatabase = "postgresql://pool:Inline-Pg-Pass@db:5432/ledger"\n'
        'read_urls = ["postgresql://pool:Replica-Pg-Pass@db-replica:5432/ledger"]\n'
    )
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ledger_password").write_text("Credential-Pg-Pass", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "Inline-Pg-Pass" not in out
    assert "Credential-Pg-Pass" not in out
    effective = json.loads(out)
    assert effective["ledger"]["database"] == "postgresql://***@db:5432/ledger"
    assert "Replica-Pg-Pass" not in out
    assert effective["ledger"]["read_urls"] == ["postgresql://***@db-replica:5432/ledger"]
    assert effective["ledger"]["password"] == "**********"


def test_check_config_invalid_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[http]\nport = "http"\n')
    assert main(["check-config", "--config", str(cfg)]) == EXIT_CONFIG == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "http.port" in lines[0]


def test_run_with_invalid_config_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAKEPOOL_BEACON__URLS", "not json")
    assert main(["run"]) == 2
    assert "beacon.urls" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["sim", "--offline", "9..3"],
        ["sim", "--offline", "a..b"],
        ["demo", "--epochs", "0"],
        ["demo", "--slot-seconds", "-1"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_a_configuration_error_never_quotes_a_url_s_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[beacon]\nurls = ["http://user:s3cret-x@node:5052/?a=1"]\n')
    assert main(["check-config", "--config", str(cfg)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "s3cret-x" not in err
    assert "http://***@node:5052" in err  # still says which URL is wrong


def test_check_config_masks_credentials_in_every_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "beacon_auth").write_text("Bearer tok-abcdef\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[beacon]\nurls = ["http://user:pass-1@b:5052"]\n'
        '[execution]\nurl = "http://el:pass-2@e:8545"\n'
        '[mqtt]\nurl = "mqtt://u:pw-3@m:1883"\n'
    )
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    for secret in ("pass-1", "pass-2", "pw-3", "tok-abcdef"):
        assert secret not in out
    effective = json.loads(out)
    assert effective["beacon"]["urls"] == ["http://***@b:5052"]
    assert effective["mqtt"]["url"] == "mqtt://***@m:1883"
    assert effective["beacon"]["auth"] == "**********"
