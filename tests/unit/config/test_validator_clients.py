"""``[[validator_client]]``: one token source each, names usable as a metric label, read at poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from stakepool.config import ConfigError, Settings, load_settings


def _load(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "c.toml"
    path.write_text(body)
    return load_settings(path)


ENTRY = '[[validator_client]]\nname = "{name}"\nurl = "{url}"\n{token}\n'


def test_two_clients_with_their_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "vc2_token").write_text("s3cret\n")
    (tmp_path / "api-token.txt").write_text("  t0ken \n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    settings = _load(
        tmp_path,
        ENTRY.format(
            name="vc-1",
            url="http://127.0.0.1:5062/",
            token=f'token_file = "{tmp_path}/api-token.txt"',
        )
        + ENTRY.format(
            name="vc-2", url="https://10.0.0.8:7500", token='token_credential = "vc2_token"'
        ),
    )
    one, two = settings.validator_client
    assert (one.name, one.url, one.read_token()) == ("vc-1", "http://127.0.0.1:5062", "t0ken")
    assert two.read_token() == "s3cret"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (ENTRY.format(name="vc-1", url="http://a:1", token=""), "exactly one of token_file"),
        (
            ENTRY.format(
                name="vc-1", url="http://a:1", token='token_file = "/t"\ntoken_credential = "c"'
            ),
            "exactly one of token_file",
        ),
        (ENTRY.format(name="vc 1", url="http://a:1", token='token_file = "/t"'), "letters, digits"),
        (ENTRY.format(name="vc-1", url="ftp://a:1", token='token_file = "/t"'), "validator_client"),
        (
            ENTRY.format(name="vc-1", url="http://a:1", token='token_file = "/t"') * 2,
            "listed twice",
        ),
    ],
)
def test_bad_entries_are_refused_naming_the_problem(
    tmp_path: Path, body: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        _load(tmp_path, body)


def test_an_empty_token_file_is_an_error_at_poll_time(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("\n")
    settings = _load(
        tmp_path, ENTRY.format(name="vc", url="http://a:1", token=f'token_file = "{tmp_path}/t"')
    )
    with pytest.raises(OSError, match="empty"):
        settings.validator_client[0].read_token()
