"""Integers in the configuration are bounded where they enter: a validator index past the spec's
registry limit, or thousands of digits long, is a one-line ``ConfigError`` naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings


def _config(tmp_path: Path, pool: str) -> Path:
    path = tmp_path / "stakepool.toml"
    path.write_text(f"[pool]\n{pool}\n")
    return path


@pytest.mark.parametrize(
    "validators",
    [
        f"[{2**40}]",  # VALIDATOR_REGISTRY_LIMIT: no index reaches it
        f'["{2**64}"]',
        '["' + "9" * 5000 + '"]',  # int() would raise its own 4,300-digit ValueError
    ],
)
def test_an_index_out_of_range_names_the_field(tmp_path: Path, validators: str) -> None:
    with pytest.raises(ConfigError, match=r"pool\.validators.*out of range") as exc:
        load_settings(_config(tmp_path, f"validators = {validators}"))
    assert "Exceeds the limit" not in str(exc.value)


def test_the_largest_index_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, f"validators = [{2**40 - 1}, 0]"))
    assert [r.index for r in settings.pool.all_validators()] == [2**40 - 1, 0]


def test_a_validators_file_with_a_5000_digit_index_names_the_line(tmp_path: Path) -> None:
    listing = tmp_path / "validators.txt"
    listing.write_text("7\n" + "1" * 5000 + ",big\n")
    with pytest.raises(ConfigError, match=r"validators\.txt:2: validator index of 5000 digits"):
        load_settings(_config(tmp_path, f'validators_file = "{listing}"')).pool.all_validators()
