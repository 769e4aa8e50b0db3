"""``stakepool assets export``: from a source tree it writes deploy/'s files; it never overwrites an
operator's edited copy unless told to; the wheel's build configuration ships exactly these files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from stakepool.cli.assets import ASSETS, asset_root, export_assets
from stakepool.cli.main import main

REPO = Path(__file__).resolve().parents[3]


def test_the_wheel_ships_exactly_the_exported_assets_from_deploy() -> None:
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    force_include = build["targets"]["wheel"]["force-include"]
    assert force_include == {f"deploy/{a}": f"stakepool/assets/{a}" for a in ASSETS}
    assert all((REPO / "deploy" / asset).is_file() for asset in ASSETS)


def test_from_a_source_tree_the_assets_are_deploys() -> None:
    assert Path(str(asset_root())) == REPO / "deploy"


def test_export_writes_every_asset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assets", "export", str(tmp_path / "out")]) == 0
    for asset in ASSETS:
        assert (tmp_path / "out" / asset).read_bytes() == (REPO / "deploy" / asset).read_bytes()
    assert capsys.readouterr().out.split() == [str(tmp_path / "out" / a) for a in ASSETS]
    # Again into the same place: identical files are no conflict.
    assert main(["assets", "export", str(tmp_path / "out")]) == 0


def test_an_edited_copy_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_assets(tmp_path)
    edited = tmp_path / "systemd" / "stakepool.service"
    edited.write_text("# mine\n")
    (tmp_path / "grafana" / "stakepool.json").unlink()
    assert main(["assets", "export", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "would overwrite" in err
    assert str(edited) in err
    assert edited.read_text() == "# mine\n"
    assert not (tmp_path / "grafana" / "stakepool.json").exists()  # nothing written at all
    assert main(["assets", "export", "--force", str(tmp_path)]) == 0
    assert edited.read_bytes() == (REPO / "deploy" / "systemd" / "stakepool.service").read_bytes()
