"""The command line's grammar: every command and option, each with its help, default and
environment variable.

Every option can come from the environment (``STAKEPOOL_<COMMAND>_<OPTION>``, ``--config`` from
``STAKEPOOL_CONFIG``): a container or a unit sets them without touching the command. The command
line wins over the environment, the environment over the default. None of these names collides
with a configuration key's variable (those have ``__`` between section and key).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stakepool import __version__


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


def _ranges(text: str) -> list[tuple[int, int]]:
    """The environment's form of a repeatable ``--offline``: ``A..B,C..D``."""
    return [_range(part) for part in text.split(",") if part.strip()]


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


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _option(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    env: str,
    help: str,
    default: Any = None,
    shown: str | None = None,
    convert: Callable[[str], Any] = str,
    from_env: Callable[[str], Any] | None = None,
    choices: Sequence[str] | None = None,
    required: bool = False,
    **extra: Any,
) -> None:
    """``flag`` with ``env`` as its fallback; the help says both and the default (``shown``)."""
    raw = os.environ.get(env, "")
    value = default
    if raw:
        try:
            value = (from_env or convert)(raw)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            parser.error(f"{env}={raw!r}: {exc}")
        if choices is not None and value not in choices:
            parser.error(f"{env}={raw!r}: choose from {', '.join(choices)}")
    said = shown if shown is not None else ("none" if default is None else str(default))
    tail = f"required unless {env} is set" if required else f"default: {said}; env {env}"
    parser.add_argument(
        flag,
        type=convert,
        default=value,
        choices=choices,
        required=required and not raw,
        help=f"{help} ({tail})",
        **extra,
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _option(
        common,
        "--config",
        env="STAKEPOOL_CONFIG",
        convert=Path,
        metavar="PATH",
        help="TOML configuration file (docs/configuration.md)",
        shown="none: defaults, environment and credentials only",
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
    _option(demo, "--epochs", env="STAKEPOOL_DEMO_EPOCHS", convert=_positive_int,
            help="stop after N epochs", shown="none: run until stopped", metavar="N")  # fmt: skip
    _option(demo, "--slot-seconds", env="STAKEPOOL_DEMO_SLOT_SECONDS", convert=_positive_float,
            default=0.5, help="seconds per simulated slot", metavar="S")  # fmt: skip
    _option(demo, "--validators", env="STAKEPOOL_DEMO_VALIDATORS", convert=_positive_int,
            default=256, help="validators in the simulated network", metavar="N")  # fmt: skip
    _option(demo, "--seed", env="STAKEPOOL_DEMO_SEED", convert=_int, default=1,
            help="the simulated chain's random seed", metavar="N")  # fmt: skip

    sim = sub.add_parser("sim", help="serve a simulated beacon node on 127.0.0.1")
    _option(sim, "--port", env="STAKEPOOL_SIM_PORT", convert=_int, default=5052,
            help="TCP port on 127.0.0.1", metavar="PORT")  # fmt: skip
    _option(sim, "--validators", env="STAKEPOOL_SIM_VALIDATORS", convert=_positive_int,
            default=1024, help="validators in the simulated network", metavar="N")  # fmt: skip
    _option(sim, "--slot-seconds", env="STAKEPOOL_SIM_SLOT_SECONDS", convert=_positive_float,
            help="seconds per slot", shown="the preset's", metavar="S")  # fmt: skip
    _option(sim, "--preset", env="STAKEPOOL_SIM_PRESET", choices=("minimal", "mainnet", "gnosis"),
            default="minimal", help="the chain's preset")  # fmt: skip
    _option(sim, "--seed", env="STAKEPOOL_SIM_SEED", convert=_int, default=1,
            help="the simulated chain's random seed", metavar="N")  # fmt: skip
    _option(sim, "--offline", env="STAKEPOOL_SIM_OFFLINE", convert=_range, from_env=_ranges,
            default=[], shown="none", action="append", metavar="A..B",
            help="validators A..B never attest, propose or sign (repeatable; in the"
            " environment as A..B,C..D)")  # fmt: skip

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
    _option(export, "--from", dest="from_epoch", env="STAKEPOOL_EXPORT_FROM", convert=_int,
            required=True, metavar="EPOCH", help="first epoch of the range")  # fmt: skip
    _option(export, "--to", dest="to_epoch", env="STAKEPOOL_EXPORT_TO", convert=_int,
            required=True, metavar="EPOCH", help="last epoch of the range (inclusive)")  # fmt: skip
    _option(export, "--format", env="STAKEPOOL_EXPORT_FORMAT", choices=("csv", "json"),
            default="csv", help="output format")  # fmt: skip
    _option(export, "--kind", env="STAKEPOOL_EXPORT_KIND",
            choices=("pool", "validators", "delegators"), default="pool",
            help="pool: one row per epoch; validators: per validator and epoch;"
            " delegators: what each delegator earned in the range")  # fmt: skip
    _option(export, "--database", env="STAKEPOOL_EXPORT_DATABASE", metavar="PATH",
            help="ledger file", shown="[ledger] database")  # fmt: skip
    _option(export, "--output", env="STAKEPOOL_EXPORT_OUTPUT", convert=Path, metavar="FILE",
            help="write here", shown="stdout")  # fmt: skip
    return parser
