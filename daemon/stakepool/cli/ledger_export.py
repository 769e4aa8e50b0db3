"""The ``stakepool ledger export`` command (argument checks, file handling, exit codes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from stakepool.config import Settings
from stakepool.ledger.store.export import ExportFormat, ExportKind, table, write
from stakepool.store.database import Database, DatabaseError
from stakepool.store.engine import is_postgresql_url

EXIT_USAGE = 2
MAX_EPOCH = 2**63 - 1
"""The ledger's epochs are SQLite INTEGER: a larger bound is no range of epochs it could hold."""


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    first: int = args.from_epoch
    last: int = args.to_epoch
    if first < 0 or last < first or last > MAX_EPOCH:
        print(
            f"stakepool: ledger export: --from {first} --to {last} is not a range of epochs",
            file=sys.stderr,
        )
        return EXIT_USAGE
    path = args.database or settings.ledger.resolved_database()
    if not is_postgresql_url(path) and not Path(path).is_file():
        print(f"stakepool: ledger export: no ledger at {path}", file=sys.stderr)
        return EXIT_USAGE
    kind: ExportKind = args.kind
    fmt: ExportFormat = args.format
    try:
        # Read only, never migrated or written: the ledger may be a copy on read-only media,
        # or the live file of a running daemon (WAL lets us read beside its writer).
        db = Database.open_read_only(path, password=settings.ledger.database_password())
    except DatabaseError as exc:
        print(f"stakepool: ledger export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:

        def dump(out: TextIO) -> int:
            return db.read_sync(lambda conn: write(out, table(conn, kind, first, last), fmt))

        if args.output is None:
            count = dump(sys.stdout)
        else:
            with Path(args.output).open("w", encoding="utf-8", newline="") as out:
                count = dump(out)
    finally:
        db.close()
    print(f"stakepool: exported {count} {kind} row(s), epochs {first}..{last}", file=sys.stderr)
    return 0
