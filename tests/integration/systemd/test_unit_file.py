"""The shipped unit, its config and env examples: systemd loads them cleanly, the sandbox rates
"OK", and what the unit runs is a command the installed daemon accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from stakepool.config import Settings
from stakepool.config.settings import _is_secret
from tests.integration.systemd.analyze import (
    INSTALLED_BINARY,
    REPO,
    UNIT,
    systemd_analyze,
    unit_directives,
)

EXAMPLES = REPO / "deploy" / "systemd"
MAX_EXPOSURE = 2.0
# The venv's console script is what `pip install` puts at INSTALLED_BINARY in a real install.
BINARY = Path(sys.executable).parent / "stakepool"


def _installed_unit(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as it would run here: ExecStart names this checkout's installed console script.

    verify refuses an ExecStart binary that does not exist, and /opt/stakepool is not installed
    on a test machine; the documented install path is the only thing replaced.
    """
    text = UNIT.read_text() if text is None else text
    assert text.count(INSTALLED_BINARY) == 1
    assert BINARY.is_file(), f"{BINARY} missing: run scripts/bootstrap"
    unit = tmp_path / "stakepool.service"
    unit.write_text(text.replace(INSTALLED_BINARY, str(BINARY)))
    return unit


def _service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for section, key, value in unit_directives(UNIT.read_text()):
        if section == "Service":
            values.setdefault(key, []).append(value)
    return values


def test_verify_prints_nothing(tmp_path: Path) -> None:
    done = systemd_analyze("verify", str(_installed_unit(tmp_path)))
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_verify_would_catch_a_typo(tmp_path: Path) -> None:
    """The check above can fail: a misspelled key is only a warning, on stderr, with exit 0."""
    broken = UNIT.read_text().replace("ProtectSystem=", "ProtectSytem=")
    done = systemd_analyze("verify", str(_installed_unit(tmp_path, broken)))
    assert "Unknown key 'ProtectSytem'" in done.stderr


def test_security_exposure_is_at_most_two(tmp_path: Path) -> None:
    # --threshold is on the 0-100 scale of the displayed 0.0-10.0 exposure.
    unit = _installed_unit(tmp_path)
    done = systemd_analyze("security", "--offline=true", "--threshold=20", str(unit))
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"Overall exposure level for stakepool\.service: (\d+\.\d)", done.stdout)
    assert match is not None, done.stdout
    assert float(match.group(1)) <= MAX_EXPOSURE


def test_the_unit_is_a_watched_notify_service_with_its_state_and_secrets() -> None:
    service = _service()
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["Restart"] == ["on-failure"]
    assert service["DynamicUser"] == ["yes"]
    assert service["StateDirectory"] == ["stakepool"]  # $STATE_DIRECTORY: the ledger's home
    watchdog = service["WatchdogSec"][0]
    assert watchdog.endswith("s")
    assert int(watchdog[:-1]) >= 10
    # Every secret setting can come in as a credential, under the name the daemon looks for.
    secrets = {
        f"{section}_{key}"
        for section, info in Settings.model_fields.items()
        for key, sub in getattr(info.annotation, "model_fields", {}).items()
        if _is_secret(sub.annotation)
    }
    loaded = {entry.split(":", 1)[0] for entry in service["LoadCredential"]}
    assert secrets
    assert loaded == secrets
    # Looked up in the credential store by a relative name: an absent secret is not an error.
    assert all(not entry.split(":", 1)[1].startswith("/") for entry in service["LoadCredential"])


def test_exec_start_runs_the_documented_command_on_the_example_config(tmp_path: Path) -> None:
    argv = shlex.split(_service()["ExecStart"][0])
    assert argv == [INSTALLED_BINARY, "run", "--config", "/etc/stakepool/config.toml"]
    done = subprocess.run(
        [str(BINARY), "check-config", "--config", str(EXAMPLES / "config.toml.example")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(STATE_DIRECTORY=str(tmp_path)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"id": "mypool"' in done.stdout


def _example_env_lines() -> list[str]:
    lines = [
        line.removeprefix("#").strip()
        for line in (EXAMPLES / "stakepool.env.example").read_text().splitlines()
    ]
    return [line for line in lines if line.startswith("STAKEPOOL_")]


@pytest.mark.parametrize("line", _example_env_lines())
def test_each_env_example_line_is_accepted(line: str, tmp_path: Path) -> None:
    # EnvironmentFile= unquotes like a shell for values this simple; shlex does the same.
    (assignment,) = shlex.split(line)
    name, _, value = assignment.partition("=")
    done = subprocess.run(
        [str(BINARY), "check-config", "--config", str(EXAMPLES / "config.toml.example")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(STATE_DIRECTORY=str(tmp_path), **{name: value}),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads(value) if value.startswith("[") else [value]
    assert all(f'"{item}"' in done.stdout for item in expected)  # and it took effect


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STAKEPOOL_") and k != "CREDENTIALS_DIRECTORY"
    }
    env.update(extra)
    return env
