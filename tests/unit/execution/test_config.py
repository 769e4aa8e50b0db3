"""``[execution]`` settings the EL rewards read (``fee_recipients`` added with them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings

POOL = "0x388C818CA8B9251b393131C08a736A67ccB19297"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_") or key in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(key)


def test_defaults_report_el_rewards_unknown() -> None:
    s = load_settings()
    assert s.execution.url is None
    assert s.execution.fee_recipients == []


def test_fee_recipients_from_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "stakepool.toml"
    cfg.write_text(
        f'[execution]\nurl = "http://127.0.0.1:8545"\nfee_recipients = ["{POOL}"]\n',
        encoding="utf-8",
    )
    s = load_settings(cfg)
    assert s.execution.fee_recipients == [POOL.lower()]
    monkeypatch.setenv("STAKEPOOL_EXECUTION__FEE_RECIPIENTS", f'["{POOL}", "0x{"ab" * 20}"]')
    assert load_settings(cfg).execution.fee_recipients == [POOL.lower(), "0x" + "ab" * 20]


def test_a_bad_address_is_one_line_naming_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "stakepool.toml"
    cfg.write_text('[execution]\nfee_recipients = ["0x1234"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("execution.fee_recipients")
