"""The arguments of ``stakepool ledger statement`` (light: the parser imports no database)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def add_parser(
    ledger_sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    period_range: Callable[[str], tuple[int, int]],
) -> None:
    statement = ledger_sub.add_parser(
        "statement",
        parents=[common],
        help="a delegator's statements per period or UTC month, as CSV or JSON",
    )
    statement.add_argument("--delegator", required=True, metavar="ID")
    which = statement.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--period",
        type=period_range,
        metavar="N|A..B",
        help="a period or an inclusive range of periods ([ledger] statement_period_epochs each)",
    )
    which.add_argument("--month", metavar="YYYY-MM", help="the roll-up of one UTC month")
    statement.add_argument("--format", choices=("csv", "json"), default="csv")
    statement.add_argument(
        "--database", metavar="PATH", help="ledger file (default: [ledger] database)"
    )
    statement.add_argument("--output", type=Path, metavar="FILE", help="write here, not stdout")
