"""The ledger's `[pool]` keys: validated with one-line errors, and mapped onto the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stakepool.toml"
    path.write_text(text)
    return path


def test_pool_policy_keys_reach_the_ledger_policy(tmp_path: Path) -> None:
    settings = load_settings(
        _config(
            tmp_path,
            '[pool]\nfee_bps = 800\nfee_mode = "period_net"\nfee_period_epochs = 675\n'
            'loss_policy = "operator_first"\noperator_bond_gwei = 4000000000\n',
        )
    )
    policy = settings.pool.policy()
    assert (policy.fee_bps, policy.fee_mode, policy.fee_period_epochs) == (800, "period_net", 675)
    assert (policy.loss_policy, policy.operator_bond_gwei) == ("operator_first", 4 * 10**9)


def test_defaults_are_high_water_mark_and_socialized_losses() -> None:
    policy = load_settings(None).pool.policy()
    assert (policy.fee_mode, policy.loss_policy, policy.operator_bond_gwei) == (
        "high_water_mark",
        "socialized",
        0,
    )


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[pool]\noperator_bond_gwei = -1\n", "pool.operator_bond_gwei"),
        ("[pool]\nfee_period_epochs = 0\n", "pool.fee_period_epochs"),
        ('[pool]\nloss_policy = "nobody"\n', "pool.loss_policy"),
    ],
)
def test_bad_ledger_keys_are_one_line_errors_naming_the_field(
    tmp_path: Path, toml: str, field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, toml))
    assert field in str(err.value)
    assert "\n" not in str(err.value)
