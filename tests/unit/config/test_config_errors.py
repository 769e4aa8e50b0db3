"""A bad configuration is reported whole: every invalid field on its own line, unknown keys named
as such with the closest valid key, a value shown once, a secret never."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stakepool.cli import EXIT_CONFIG, main
from stakepool.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_") or key in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(key)


BAD = """
[beacon]
urlz = ["http://127.0.0.1:5052"]
timeout_seconds = "soon"
[pool]
fee_bps = 20000
id = "Has Spaces"
[mqqt]
url = "mqtt://broker"
"""


def test_every_invalid_field_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    assert len(problems) == 5, problems
    by_field = {p.split(":", 1)[0]: p for p in problems}
    assert set(by_field) == {
        "beacon.urlz",
        "beacon.timeout_seconds",
        "pool.fee_bps",
        "pool.id",
        "mqqt",
    }
    assert by_field["beacon.urlz"] == "beacon.urlz: unknown key; did you mean 'urls'?"
    assert by_field["mqqt"] == "mqqt: unknown key; did you mean 'mqtt'?"
    assert "Extra inputs" not in str(caught.value)
    # The value is quoted by the message already: not a second time.
    assert by_field["pool.id"].count("Has Spaces") == 1
    assert by_field["pool.fee_bps"].endswith("(got 20000)")


def test_an_unknown_key_without_a_close_match_lists_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[metrics]\nzzz = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^metrics\.zzz: unknown key; valid keys here: "):
        load_settings(path)


def test_a_secret_s_value_is_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[http]\ntoken = 98765432\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "98765432" not in str(caught.value)
    assert str(caught.value).startswith("http.token: ")


def test_check_config_prints_each_problem_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BAD, encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "stakepool: 5 configuration errors:"
    assert len(err) == 6
    assert "  beacon.urlz: unknown key; did you mean 'urls'?" in err
