"""The command line's grammar: every command and option, each with its help, default and
environment variable.

Every option can come from the environment (``STAKEPOOL_<COMMAND>_<OPTION>``, ``--config`` from
``STAKEPOOL_CONFIG``): a container or a unit sets them without touching the command. The command
line wins over the environment, the environment over the default. None of these names collides
with a configuration key's variable (those have ``__`` between section and key).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stakepool import __version__
from stakepool.cli.assets import add_assets_parser
from stakepool.cli.duties_args import add_parser as add_duties_parser
from stakepool.cli.migrate_args import add_parser as add_migrate_parser
from stakepool.cli.options import (
    index_range,
    index_ranges,
    integer,
    option,
    positive_float,
    positive_int,
)
from stakepool.cli.statement_args import add_parser as add_statement_parser
from stakepool.cli.verify_args import add_parser as add_verify_parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    option(
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
    option(demo, "--epochs", env="STAKEPOOL_DEMO_EPOCHS", convert=positive_int,
            help="stop after N epochs", shown="none: run until stopped", metavar="N")  # fmt: skip
    option(demo, "--slot-seconds", env="STAKEPOOL_DEMO_SLOT_SECONDS", convert=positive_float,
            default=0.5, help="seconds per simulated slot", metavar="S")  # fmt: skip
    option(demo, "--validators", env="STAKEPOOL_DEMO_VALIDATORS", convert=positive_int,
            default=256, help="validators in the simulated network", metavar="N")  # fmt: skip
    option(demo, "--seed", env="STAKEPOOL_DEMO_SEED", convert=integer, default=1,
            help="the simulated chain's random seed", metavar="N")  # fmt: skip

    sim = sub.add_parser("sim", help="serve a simulated beacon node on 127.0.0.1")
    option(sim, "--port", env="STAKEPOOL_SIM_PORT", convert=integer, default=5052,
            help="TCP port on 127.0.0.1", metavar="PORT")  # fmt: skip
    option(sim, "--validators", env="STAKEPOOL_SIM_VALIDATORS", convert=positive_int,
            default=1024, help="validators in the simulated network", metavar="N")  # fmt: skip
    option(sim, "--slot-seconds", env="STAKEPOOL_SIM_SLOT_SECONDS", convert=positive_float,
            help="seconds per slot", shown="the preset's", metavar="S")  # fmt: skip
    option(sim, "--preset", env="STAKEPOOL_SIM_PRESET", choices=("minimal", "mainnet", "gnosis"),
            default="minimal", help="the chain's preset")  # fmt: skip
    option(sim, "--seed", env="STAKEPOOL_SIM_SEED", convert=integer, default=1,
            help="the simulated chain's random seed", metavar="N")  # fmt: skip
    option(sim, "--offline", env="STAKEPOOL_SIM_OFFLINE", convert=index_range,
            from_env=index_ranges,
            default=[], shown="none", action="append", metavar="A..B",
            help="validators A..B never attest, propose or sign (repeatable; in the"
            " environment as A..B,C..D)")  # fmt: skip
    option(sim, "--keymanager-port", env="STAKEPOOL_SIM_KEYMANAGER_PORT", convert=integer,
            metavar="P", shown="none: no keymanager",
            help="also serve a validator client's Keymanager API (keystores, remotekeys) on"
            " port P")  # fmt: skip
    option(sim, "--keymanager-token-file", env="STAKEPOOL_SIM_KEYMANAGER_TOKEN_FILE",
            convert=Path, metavar="FILE", shown="none: a fresh token, not written",
            help="its bearer token (hex); written with a fresh token if the file does not"
            " exist")  # fmt: skip
    option(sim, "--keymanager-keys", env="STAKEPOOL_SIM_KEYMANAGER_KEYS", convert=index_range,
            from_env=index_ranges, default=[], shown="none", action="append", metavar="A..B",
            help="keys of validators A..B the keymanager holds at the start (repeatable; in the"
            " environment as A..B,C..D)")  # fmt: skip

    sub.add_parser(
        "check-config",
        parents=[common],
        help="print the effective configuration (secrets masked); exit 2 if invalid",
    )
    sub.add_parser("version", help="print the version")
    add_assets_parser(sub)

    ledger = sub.add_parser(
        "ledger",
        help="ledger tools (export for accountants, delegator statements, move to PostgreSQL)",
    )
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    export = ledger_sub.add_parser(
        "export", parents=[common], help="write ledger rows of an epoch range as CSV or JSON"
    )
    option(export, "--from", dest="from_epoch", env="STAKEPOOL_EXPORT_FROM", convert=integer,
            required=True, metavar="EPOCH", help="first epoch of the range")  # fmt: skip
    option(export, "--to", dest="to_epoch", env="STAKEPOOL_EXPORT_TO", convert=integer,
            required=True, metavar="EPOCH", help="last epoch of the range (inclusive)")  # fmt: skip
    option(export, "--format", env="STAKEPOOL_EXPORT_FORMAT", choices=("csv", "json"),
            default="csv", help="output format")  # fmt: skip
    option(export, "--kind", env="STAKEPOOL_EXPORT_KIND",
            choices=("pool", "validators", "delegators"), default="pool",
            help="pool: one row per epoch; validators: per validator and epoch;"
            " delegators: what each delegator earned in the range")  # fmt: skip
    option(export, "--database", env="STAKEPOOL_EXPORT_DATABASE", metavar="PATH",
            help="ledger file", shown="[ledger] database")  # fmt: skip
    option(export, "--output", env="STAKEPOOL_EXPORT_OUTPUT", convert=Path, metavar="FILE",
            help="write here", shown="stdout")  # fmt: skip
    add_statement_parser(ledger_sub, common)
    add_migrate_parser(ledger_sub, common)
    add_verify_parser(sub)
    add_duties_parser(sub, common)
    return parser
