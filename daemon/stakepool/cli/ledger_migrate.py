"""``stakepool ledger migrate``: a SQLite ledger moved into PostgreSQL, verified row for row."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stakepool.config import Settings
from stakepool.store.engine import is_postgresql_url
from stakepool.store.errors import DatabaseError
from stakepool.store.pg import display
from stakepool.store.transfer import migrate_ledger

EXIT_USAGE = 2
EXIT_FAILED = 1


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"stakepool: ledger migrate: {message}", file=sys.stderr)
    return code


def _password(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.password_file is None:
        return settings.ledger.database_password()
    # One line; the trailing newline an editor or `echo` adds is not part of the password.
    return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    source: str = args.source or settings.ledger.resolved_database()
    target: str = args.target
    if is_postgresql_url(source):
        return _fail(f"--from {display(source)} is a PostgreSQL URL: give the SQLite ledger file")
    if not is_postgresql_url(target):
        return _fail(f"--to {target!r} is not a postgresql:// URL")
    try:
        password = _password(args, settings)
    except OSError as exc:
        return _fail(f"--password-file: {exc.strerror}: {args.password_file}")
    shown = display(target)
    try:
        copied = migrate_ledger(source, target, password)
    except DatabaseError as exc:
        # MigrateRefused (nothing written) and a failed copy (rolled back) alike: the target is
        # as it was. Refusals are the operator's to fix (usage); anything else is a failure.
        from stakepool.store.transfer import MigrateRefused  # noqa: PLC0415

        code = EXIT_USAGE if isinstance(exc, MigrateRefused) else EXIT_FAILED
        return _fail(display(str(exc)), code)
    for table in copied:
        print(f"{table.name}\t{table.rows}\tsha256:{table.digest}")
    total = sum(t.rows for t in copied)
    print(
        f"stakepool: migrated {total} row(s) in {len(copied)} table(s) from {source} to {shown};"
        " every table verified (row count and sha256 in key order)",
        file=sys.stderr,
    )
    return 0
