"""``stakepool ledger statement``: one delegator's statements as CSV (for a tax tool) or JSON.

CSV: one row per period (or the month's one row), every amount in Gwei and in ETH as exact decimal
strings, ``unknown`` for an EL credit nobody measured. JSON: the HTTP API's statement objects.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TextIO

from stakepool.config import Settings
from stakepool.ledger.statement_format import CSV_COLUMNS, csv_row, statement_json
from stakepool.ledger.statement_queries import DelegatorStatement
from stakepool.ledger.statements import StatementError, parse_month
from stakepool.ledger.store.ledger_sql import delegator_exists
from stakepool.ledger.store.statements_sql import delegator_statements, month_statement
from stakepool.store.database import STORE_ERRORS, Database
from stakepool.store.engine import is_postgresql_url

EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"stakepool: ledger statement: {message}", file=sys.stderr)
    return code


def _write(out: TextIO, views: list[DelegatorStatement], fmt: str, period_epochs: int) -> None:
    if fmt == "json":
        doc = {"data": [statement_json(v) for v in views], "meta": {"period_epochs": period_epochs}}
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for view in views:
        writer.writerow(csv_row(view))


def run_statement(args: argparse.Namespace, settings: Settings) -> int:
    path = args.database or settings.ledger.resolved_database()
    if not is_postgresql_url(path) and not Path(path).is_file():
        return _fail(f"no ledger at {path}")
    delegator: str = args.delegator
    if (args.period is None) == (args.month is None):
        # Either may come from the environment, so argparse's required group cannot say it.
        return _fail("give one of --period or --month")
    period_epochs = settings.ledger.statement_period_epochs
    try:
        month = None if args.month is None else parse_month(args.month)
    except StatementError as exc:
        return _fail(str(exc))
    try:
        db = Database.open(path, password=settings.ledger.database_password())
    except STORE_ERRORS as exc:
        return _fail(str(exc))
    try:
        if not db.read_sync(lambda c: delegator_exists(c, delegator)):
            return _fail(f"delegator {delegator!r} is not in the ledger", EXIT_NOT_FOUND)
        if month is not None:
            found = db.read_sync(
                lambda c: month_statement(c, delegator, period_epochs, month[0], month[1])
            )
            views = [] if found is None else [found]
        else:
            first, last = args.period
            views = db.read_sync(
                lambda c: delegator_statements(c, delegator, period_epochs, first, last)
            )
    except StatementError as exc:
        return _fail(str(exc))
    finally:
        db.close()
    if args.output is None:
        _write(sys.stdout, views, args.format, period_epochs)
    else:
        with Path(args.output).open("w", encoding="utf-8", newline="") as out:
            _write(out, views, args.format, period_epochs)
    provisional = sum(1 for v in views if v.statement.status != "final")
    print(
        f"stakepool: {len(views)} statement(s) of {delegator!r}, {provisional} provisional",
        file=sys.stderr,
    )
    return 0
