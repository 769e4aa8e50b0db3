"""The ``stakepool`` command: run | demo | sim | check-config | ledger | duties | version."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from stakepool import __version__
from stakepool.config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _range(text: str) -> tuple[int, int]:
    """``A..B`` (inclusive) or a single index ``A``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an index range like 48..55")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if high < low:
        raise argparse.ArgumentTypeError(f"{text!r}: the range ends before it starts")
    return low, high


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML configuration file (see docs/configuration.md)",
    )
    parser = argparse.ArgumentParser(
        prog="stakepool",
        description="Sidecar daemon for a Proof-of-Stake staking pool.",
    )
    parser.add_argument("--version", action="version", version=f"stakepool {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="follow the beacon node(s) and serve the pool")

    demo = sub.add_parser(
        "demo", parents=[common], help="run the daemon against a built-in simulated chain"
    )
    demo.add_argument("--epochs", type=_positive_int, default=None, help="stop after N epochs")
    demo.add_argument("--slot-seconds", type=_positive_float, default=0.5)
    demo.add_argument("--validators", type=_positive_int, default=256, help="network size")
    demo.add_argument("--seed", type=int, default=1)

    sim = sub.add_parser("sim", help="serve a simulated beacon node on 127.0.0.1")
    sim.add_argument("--port", type=int, default=5052)
    sim.add_argument("--validators", type=_positive_int, default=1024)
    sim.add_argument("--slot-seconds", type=_positive_float, default=None)
    sim.add_argument("--preset", choices=("minimal", "mainnet", "gnosis"), default="minimal")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument(
        "--offline",
        type=_range,
        action="append",
        default=[],
        metavar="A..B",
        help="validators A..B never attest, propose or sign (repeatable)",
    )
    sim.add_argument(
        "--keymanager-port",
        type=int,
        metavar="P",
        help="also serve a validator client's Keymanager API (keystores, remotekeys) on port P",
    )
    sim.add_argument(
        "--keymanager-token-file",
        type=Path,
        metavar="FILE",
        help="its bearer token (hex); written with a fresh token if the file does not exist",
    )
    sim.add_argument(
        "--keymanager-keys",
        type=_range,
        action="append",
        default=[],
        metavar="A..B",
        help="keys of validators A..B the keymanager holds at the start (repeatable)",
    )

    sub.add_parser(
        "check-config",
        parents=[common],
        help="print the effective configuration (secrets masked); exit 2 if invalid",
    )
    sub.add_parser("version", help="print the version")

    ledger = sub.add_parser("ledger", help="ledger tools (export for accountants)")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    export = ledger_sub.add_parser(
        "export", parents=[common], help="write ledger rows of an epoch range as CSV or JSON"
    )
    export.add_argument("--from", dest="from_epoch", type=int, required=True, metavar="EPOCH")
    export.add_argument("--to", dest="to_epoch", type=int, required=True, metavar="EPOCH")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument(
        "--kind",
        choices=("pool", "validators", "delegators"),
        default="pool",
        help="pool: one row per epoch; validators: per validator and epoch;"
        " delegators: what each delegator earned in the range",
    )
    export.add_argument(
        "--database", metavar="PATH", help="ledger file (default: [ledger] database)"
    )
    export.add_argument("--output", type=Path, metavar="FILE", help="write here, not stdout")

    duties = sub.add_parser("duties", help="the pool's coming duties (maintenance windows)")
    duties_sub = duties.add_subparsers(dest="duties_command", required=True, metavar="ACTION")
    upcoming = duties_sub.add_parser(
        "next",
        parents=[common],
        help="next proposals, sync-committee seats, attestations and the longest gap;"
        " with --within: exit 1 if those slots hold a proposal or sync duty",
    )
    upcoming.add_argument(
        "--within",
        type=_positive_int,
        metavar="SLOTS",
        help="exit 0 only if the SLOTS slots starting now hold no proposal and no sync duty",
    )
    upcoming.add_argument("--json", action="store_true", help="print the API's JSON, not text")
    return parser


def _load(config: Path | None) -> Settings | None:
    try:
        return load_settings(config)
    except ConfigError as exc:
        print(f"stakepool: configuration error: {exc}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: str = args.command

    if command == "version":
        print(f"stakepool {__version__}")
        return 0

    if command == "sim":
        from stakepool.sim.cli import run_sim_command  # noqa: PLC0415 - heavy, numpy

        return asyncio.run(run_sim_command(args))

    settings = _load(args.config)
    if settings is None:
        return EXIT_CONFIG

    if command == "check-config":
        effective = settings.model_dump(mode="json")
        effective["pool"]["validators"] = [
            {"id": ref.key, "label": ref.label} for ref in settings.pool.all_validators()
        ]
        print(json.dumps(effective, indent=2))
        return 0

    if command == "ledger":
        from stakepool.cli.ledger_export import run_export  # noqa: PLC0415

        return run_export(args, settings)

    if command == "duties":
        from stakepool.cli.duties import run_duties  # noqa: PLC0415

        return run_duties(args, settings)

    from stakepool.service.demo import run_demo  # noqa: PLC0415
    from stakepool.service.root import run_daemon  # noqa: PLC0415 - keep `version` light

    if command == "demo":
        return asyncio.run(
            run_demo(
                settings,
                epochs=args.epochs,
                slot_seconds=args.slot_seconds,
                validators=args.validators,
                seed=args.seed,
            )
        )
    return asyncio.run(run_daemon(settings))
