"""``stakepool assets export DIR``: the deployment files the wheel carries, written out.

An operator who installed with ``pip``, ``pipx`` or ``uv tool install`` has no checkout: the
systemd unit and its examples, the Prometheus rules, the Grafana dashboard and the Alertmanager
example come with the package (``stakepool/assets/``, put there from ``deploy/`` by the wheel's
build configuration in pyproject.toml, so ``deploy/`` stays the one source). Run from a source
tree, the files are read from ``deploy/`` itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import stakepool

# Each asset's path below ``deploy/`` in the repository, below ``stakepool/assets/`` in the wheel
# and below the export directory: the same everywhere. pyproject.toml's
# [tool.hatch.build.targets.wheel.force-include] lists the same files (a test keeps them equal).
ASSETS: tuple[str, ...] = (
    "systemd/stakepool.service",
    "systemd/stakepool.env.example",
    "systemd/config.toml.example",
    "prometheus/stakepool-rules.yml",
    "grafana/stakepool.json",
    "alertmanager/alertmanager.yml",
)

EXIT_CONFLICT = 1


def add_assets_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assets = sub.add_parser("assets", help="the deployment files shipped in the package")
    actions = assets.add_subparsers(dest="assets_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the systemd unit and examples, alert rules, dashboard and Alertmanager"
        " example into DIR (subfolders systemd/, prometheus/, grafana/, alertmanager/)",
    )
    export.add_argument("directory", type=Path, metavar="DIR", help="created if missing")
    # A flag, so not stakepool.cli.options.option (a converted value); same help and environment.
    force_env = "STAKEPOOL_ASSETS_FORCE"
    export.add_argument(
        "--force",
        action="store_true",
        default=os.environ.get(force_env, "").strip().lower() in ("1", "true", "yes"),
        help=f"overwrite files that differ (default: refuse; env {force_env}=1)",
    )


def asset_root() -> Traversable:
    """``stakepool/assets`` of the installed wheel, or ``deploy/`` of the source tree."""
    packaged = files(stakepool).joinpath("assets")
    if packaged.is_dir():
        return packaged
    source = Path(stakepool.__file__).resolve().parents[2] / "deploy"
    if source.is_dir():
        return source
    raise FileNotFoundError(
        "this stakepool install carries no assets (a wheel built without them?)"
    )


def export_assets(directory: Path, *, force: bool = False) -> list[Path]:
    """Write every asset below ``directory``; an existing different file is an error unless
    ``force``. Nothing is written when one would be refused."""
    root = asset_root()
    contents = {name: root.joinpath(*name.split("/")).read_bytes() for name in ASSETS}
    targets = {name: directory / name for name in ASSETS}
    clashes = [
        str(path)
        for name, path in targets.items()
        if path.exists() and (not path.is_file() or path.read_bytes() != contents[name])
    ]
    if clashes and not force:
        raise FileExistsError(f"would overwrite {', '.join(clashes)} (use --force)")
    for name, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents[name])
    return list(targets.values())


def run_assets(args: argparse.Namespace) -> int:
    try:
        written = export_assets(args.directory, force=args.force)
    except (FileExistsError, FileNotFoundError, OSError) as exc:
        print(f"stakepool: assets export: {exc}", file=sys.stderr)
        return EXIT_CONFLICT
    for path in written:
        print(path)
    return 0
