"""``[monitor]``: thresholds and doppelganger keys from TOML or the environment, checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings
from stakepool.monitor.thresholds import MonitorThresholds

PUBKEY = "0x" + "a9" * 48


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_monitors_defaults() -> None:
    m = load_settings().monitor
    assert m.thresholds() == MonitorThresholds()
    assert m.not_started == []
    assert m.vc_doppelganger_wait is False
    assert m.catch_up_epochs == 16


def test_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        "[monitor]\nmissed_attestations_before_alert = 4\nsync_participation_low = 0.5\n"
        f'not_started = [12, "{PUBKEY.upper().replace("0X", "0x")}"]\n'
        "vc_doppelganger_wait = true\n"
    )
    monkeypatch.setenv("STAKEPOOL_MONITOR__FINALITY_DELAY_EPOCHS", "6")
    m = load_settings(path).monitor
    assert m.thresholds() == MonitorThresholds(
        missed_attestation_streak=4, finality_delay_epochs=6, sync_participation_low=0.5
    )
    assert [(r.index, r.pubkey) for r in m.not_started] == [(12, None), (None, PUBKEY)]
    assert m.vc_doppelganger_wait is True


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("missed_attestations_before_alert = 0", "monitor.missed_attestations_before_alert"),
        ("finality_delay_epochs = -1", "monitor.finality_delay_epochs"),
        ("sync_participation_low = 1.5", "monitor.sync_participation_low"),
        ('not_started = ["12,label"]', "monitor.not_started.0"),
        ('not_started = ["0x12"]', "monitor.not_started.0"),
        ("catch_up_epochs = 5000", "monitor.catch_up_epochs"),
        ("missed_attestation_streak = 3", "monitor.missed_attestation_streak"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, toml: str, field: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"[monitor]\n{toml}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value).startswith(field + ":"), str(err.value)
    assert "\n" not in str(err.value)
