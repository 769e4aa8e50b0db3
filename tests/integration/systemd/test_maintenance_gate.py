"""The shipped maintenance-window example: a oneshot unit and the drop-in that gates it with
``stakepool duties next`` load cleanly in systemd, and the gate is a command the CLI accepts."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from stakepool.cli.main import build_parser
from tests.integration.systemd.analyze import (
    INSTALLED_BINARY,
    REPO,
    systemd_analyze,
    unit_directives,
)

EXAMPLE = REPO / "deploy" / "systemd" / "maintenance"
DROP_IN = EXAMPLE / "validator-restart.service.d" / "stakepool-window.conf"
BINARY = Path(sys.executable).parent / "stakepool"


def _installed(tmp_path: Path, drop_in_text: str | None = None) -> Path:
    """The example as installed here (verify refuses an ExecCondition binary that is missing)."""
    target = tmp_path / "units"
    shutil.copytree(EXAMPLE, target)
    conf = target / "validator-restart.service.d" / "stakepool-window.conf"
    text = DROP_IN.read_text() if drop_in_text is None else drop_in_text
    assert text.count(INSTALLED_BINARY) == 1
    conf.write_text(text.replace(INSTALLED_BINARY, str(BINARY)))
    return target / "validator-restart.service"


def test_the_gated_unit_loads_without_a_word(tmp_path: Path) -> None:
    done = systemd_analyze("verify", str(_installed(tmp_path)))
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_verify_reads_the_drop_in(tmp_path: Path) -> None:
    """The check above can fail: a misspelled key in the drop-in is reported."""
    broken = DROP_IN.read_text().replace("ExecCondition=", "ExecConditon=")
    done = systemd_analyze("verify", str(_installed(tmp_path, broken)))
    assert "Unknown key 'ExecConditon'" in done.stderr


def test_the_condition_is_the_duties_gate() -> None:
    conditions = [
        value
        for section, key, value in unit_directives(DROP_IN.read_text())
        if (section, key) == ("Service", "ExecCondition")
    ]
    assert len(conditions) == 1
    argv = shlex.split(conditions[0])
    assert argv[0] == INSTALLED_BINARY
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.duties_command, args.within) == ("duties", "next", 32)
