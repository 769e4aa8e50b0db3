"""A service from a package: the wheel built from this tree, installed into a fresh venv (no
checkout), writes out its deployment files with ``stakepool assets export``; they are the
repository's own, and the exported unit loads in systemd for both install layouts.

The venv gets exactly the locked dependencies (``uv sync --no-install-project`` into it, from uv's
cache) and then the wheel alone: what ``docs/operations.md`` tells an operator to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from stakepool.cli.assets import ASSETS
from tests.integration.systemd.analyze import INSTALLED_BINARY, systemd_analyze

REPO = Path(__file__).resolve().parents[3]
UV = REPO / ".tools" / "bin" / "uv"
# The drop-in docs/operations.md gives for `uv tool install` / `pipx install` with their binaries
# in /usr/local/bin; here that directory is the test's own.
TOOL_BIN = "/usr/local/bin/stakepool"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def stakepool(self) -> Path:
        return self.venv / "bin" / "stakepool"


def _run(*argv: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
        env={**_clean_env(), **env},
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


def _clean_env() -> dict[str, str]:
    drop = ("VIRTUAL_ENV", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("STAKEPOOL_")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    assert UV.is_file(), "run scripts/bootstrap first (it installs .tools/bin/uv)"
    work = tmp_path_factory.mktemp("package")
    _run(UV, "build", "--quiet", "--wheel", "--out-dir", work / "dist")
    (wheel,) = (work / "dist").glob("stakepool-*.whl")
    venv = work / "venv"
    _run(
        UV,
        "sync",
        "--quiet",
        "--locked",
        "--no-dev",
        "--no-install-project",
        "--python",
        sys.executable,
        UV_PROJECT_ENVIRONMENT=str(venv),
    )
    _run(UV, "pip", "install", "--quiet", "--no-deps", "--python", venv / "bin" / "python", wheel)
    return Installed(wheel, venv)


def test_the_wheel_carries_the_assets_and_the_license(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {f"stakepool/assets/{asset}" for asset in ASSETS} <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("deploy/", "tests/", "docs/")) for name in names)


def test_assets_export_writes_the_repositorys_files(installed: Installed, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    done = _run(installed.stakepool, "assets", "export", out)
    assert done.stdout.split() == [str(out / asset) for asset in ASSETS]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(ASSETS)
    for asset in ASSETS:
        assert (out / asset).read_bytes() == (REPO / "deploy" / asset).read_bytes(), asset
    # It read the installed package, not this checkout.
    probe = _run(
        installed.venv / "bin" / "python",
        "-c",
        "from stakepool.cli.assets import asset_root; print(asset_root())",
    )
    assert str(installed.venv) in probe.stdout


def _exported_unit(installed: Installed, tmp_path: Path) -> Path:
    out = tmp_path / "assets"
    _run(installed.stakepool, "assets", "export", out)
    return out / "systemd" / "stakepool.service"


def test_the_exported_unit_verifies_in_the_venv_layout(
    installed: Installed, tmp_path: Path
) -> None:
    # The venv layout: `python3 -m venv /opt/stakepool`; this fresh venv stands in for it.
    unit = _exported_unit(installed, tmp_path)
    text = unit.read_text()
    assert text.count(INSTALLED_BINARY) == 1
    unit.write_text(text.replace(INSTALLED_BINARY, str(installed.stakepool)))
    done = systemd_analyze("verify", str(unit))
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_the_tool_layout_drop_in_verifies(installed: Installed, tmp_path: Path) -> None:
    """``uv tool install`` and ``pipx install`` put a link to the venv's script in a bin directory:
    the documented drop-in points ExecStart there, the shipped unit stays as it is."""
    # As docs/operations.md shows it (indented in a list item).
    docs = "\n".join(
        line.strip() for line in (REPO / "docs" / "operations.md").read_text().splitlines()
    )
    drop_in = (
        f"[Service]\nExecStart=\nExecStart={TOOL_BIN} run --config /etc/stakepool/config.toml\n"
    )
    assert drop_in in docs
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stakepool").symlink_to(installed.stakepool)
    unit = _exported_unit(installed, tmp_path)
    unit.write_text(unit.read_text().replace(INSTALLED_BINARY, str(bin_dir / "stakepool")))
    conf = unit.parent / "stakepool.service.d" / "tool-install.conf"
    conf.parent.mkdir()
    conf.write_text(drop_in.replace(TOOL_BIN, str(bin_dir / "stakepool")))
    done = systemd_analyze("verify", str(unit))
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")
    # The check can fail: a drop-in naming a missing binary is refused.
    conf.write_text(drop_in.replace(TOOL_BIN, str(tmp_path / "missing" / "stakepool")))
    assert "is not executable" in systemd_analyze("verify", str(unit)).stderr


def test_the_exported_config_example_is_accepted(installed: Installed, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    _run(installed.stakepool, "assets", "export", out)
    done = _run(
        installed.stakepool,
        "check-config",
        "--config",
        out / "systemd" / "config.toml.example",
        STATE_DIRECTORY=str(tmp_path),
    )
    assert '"id": "mypool"' in done.stdout
