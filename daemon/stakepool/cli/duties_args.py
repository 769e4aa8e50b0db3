"""The arguments of ``stakepool duties next`` (light: the parser imports no network client)."""

from __future__ import annotations

import argparse

from stakepool.cli.options import option, positive_int


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    duties = sub.add_parser("duties", help="the pool's coming duties (maintenance windows)")
    duties_sub = duties.add_subparsers(dest="duties_command", required=True, metavar="ACTION")
    upcoming = duties_sub.add_parser(
        "next",
        parents=[common],
        help="next proposals, sync-committee seats, attestations and the longest gap;"
        " with --within: exit 1 if those slots hold a proposal or sync duty",
    )
    option(upcoming, "--within", env="STAKEPOOL_DUTIES_WITHIN", convert=positive_int,
           metavar="SLOTS", shown="none: report only, exit 0",
           help="exit 0 only if the SLOTS slots starting now hold no proposal and no sync"
           " duty")  # fmt: skip
    upcoming.add_argument(
        "--json",
        action="store_true",
        help="print the API's JSON, not text (default: text; env STAKEPOOL_DUTIES_JSON=1)",
        default=bool(__import__("os").environ.get("STAKEPOOL_DUTIES_JSON")),
    )
