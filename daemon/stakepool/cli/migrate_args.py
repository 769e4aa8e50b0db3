"""The arguments of ``stakepool ledger migrate`` (light: the parser imports no database)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stakepool.cli.options import option


def add_parser(
    ledger_sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    migrate = ledger_sub.add_parser(
        "migrate",
        parents=[common],
        help="copy a SQLite ledger into an empty PostgreSQL database and verify it row for row",
        description="Copy every table of a SQLite ledger into an empty PostgreSQL database, in"
        " one transaction, then compare each table's row count and a SHA-256 of its rows in key"
        " order on both sides; any difference rolls everything back. Refused (exit 2, nothing"
        " written) when the target is not empty, the schema versions differ, or the source is"
        " not a stakepool ledger. Stop the daemon first. The password comes from"
        " --password-file, else the ledger_password credential, else libpq (the URL, a service"
        " file, ~/.pgpass); it is never printed.",
    )
    option(migrate, "--from", dest="source", env="STAKEPOOL_MIGRATE_FROM", metavar="PATH",
           help="the SQLite ledger to copy (read only, never changed)",
           shown="[ledger] database")  # fmt: skip
    option(migrate, "--to", dest="target", env="STAKEPOOL_MIGRATE_TO", required=True,
           metavar="URL", help="the PostgreSQL database, postgresql://user@host/db")  # fmt: skip
    option(migrate, "--password-file", env="STAKEPOOL_MIGRATE_PASSWORD_FILE", convert=Path,
           metavar="FILE", shown="the ledger_password credential, else libpq's pgpass",
           help="a file holding the target's password (one line)")  # fmt: skip
