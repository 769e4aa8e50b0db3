"""The arguments of ``stakepool ledger statement`` (light: the parser imports no database)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stakepool.cli.options import index_range, option


def add_parser(
    ledger_sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    statement = ledger_sub.add_parser(
        "statement",
        parents=[common],
        help="a delegator's statements per period or UTC month, as CSV or JSON",
    )
    option(statement, "--delegator", env="STAKEPOOL_STATEMENT_DELEGATOR", required=True,
           metavar="ID", help="the delegator's id")  # fmt: skip
    which = statement.add_mutually_exclusive_group()
    option(statement, "--period", env="STAKEPOOL_STATEMENT_PERIOD", convert=index_range,
           into=which, metavar="N|A..B", shown="none: give --period or --month",
           help="a period or an inclusive range of periods"
           " ([ledger] statement_period_epochs each)")  # fmt: skip
    option(statement, "--month", env="STAKEPOOL_STATEMENT_MONTH", into=which, metavar="YYYY-MM",
           shown="none: give --period or --month",
           help="the roll-up of one UTC month")  # fmt: skip
    option(statement, "--format", env="STAKEPOOL_STATEMENT_FORMAT", choices=("csv", "json"),
           default="csv", help="output format")  # fmt: skip
    option(statement, "--database", env="STAKEPOOL_STATEMENT_DATABASE", metavar="PATH",
           help="ledger file", shown="[ledger] database")  # fmt: skip
    option(statement, "--output", env="STAKEPOOL_STATEMENT_OUTPUT", convert=Path, metavar="FILE",
           help="write here", shown="stdout")  # fmt: skip
