"""Every option of every command says what it does, its default and its environment variable,
and the variable really sets it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stakepool.cli.parser import build_parser


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_"):
            monkeypatch.delenv(key)


def _options(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, f"{path} {name}")
        elif action.option_strings and not isinstance(
            action, argparse._HelpAction | argparse._VersionAction
        ):
            yield f"{path} {action.option_strings[0]}", action


def test_every_option_has_help_with_its_default_and_environment_variable() -> None:
    options = list(_options(build_parser(), "stakepool"))
    assert len(options) >= 18  # the walk reached every command
    for name, action in options:
        assert action.help, name
        assert "STAKEPOOL_" in action.help, name
        assert "default:" in action.help or "required unless" in action.help, name


def test_the_environment_sets_an_option_and_the_command_line_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STAKEPOOL_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.setenv("STAKEPOOL_EXPORT_FROM", "3")
    monkeypatch.setenv("STAKEPOOL_EXPORT_KIND", "validators")
    monkeypatch.setenv("STAKEPOOL_SIM_OFFLINE", "1..2,7")
    parser = build_parser()
    args = parser.parse_args(["ledger", "export", "--to", "9", "--kind", "pool"])
    assert args.config == tmp_path / "c.toml"
    assert (args.from_epoch, args.to_epoch, args.kind) == (3, 9, "pool")
    assert parser.parse_args(["sim"]).offline == [(1, 2), (7, 7)]


def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAKEPOOL_EXPORT_FORMAT", "xml")
    with pytest.raises(SystemExit) as caught:
        build_parser()
    assert caught.value.code == 2
    assert "STAKEPOOL_EXPORT_FORMAT='xml'" in capsys.readouterr().err
