"""The one SQL text of a site, as psycopg reads it: ``?`` becomes ``%s`` only where it is a
placeholder, and every ``%`` is doubled (psycopg's own marker), in literals and comments too."""

from __future__ import annotations

import pytest

from stakepool.store.engine import POSTGRESQL, SQLITE, dialect_of, is_postgresql_url
from stakepool.store.pg import render


@pytest.mark.parametrize(
    ("sql", "rendered"),
    [
        ("SELECT a FROM t WHERE b = ? AND c > ?", "SELECT a FROM t WHERE b = %s AND c > %s"),
        ("SELECT '?' , ?", "SELECT '?' , %s"),  # a literal question mark stays
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),  # an escaped quote inside a literal
        ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = %s'),
        ("SELECT 5 % 3, ?", "SELECT 5 %% 3, %s"),
        (
            "SELECT to_char(x, '%Y') -- why? 100%\nFROM t",
            "SELECT to_char(x, '%%Y') -- why? 100%%\nFROM t",
        ),
        (POSTGRESQL.now, POSTGRESQL.now),  # the dialect's clock has no placeholder or percent
    ],
)
def test_placeholders_and_percents(sql: str, rendered: str) -> None:
    assert render(sql) == rendered


def test_a_sqlite_connection_is_its_own_dialect_and_urls_are_told_apart() -> None:
    class Pg:
        dialect = POSTGRESQL

    assert dialect_of(Pg()) is POSTGRESQL  # type: ignore[arg-type]
    assert dialect_of(object()) is SQLITE  # type: ignore[arg-type]
    assert is_postgresql_url("postgresql://u@h/db")
    assert is_postgresql_url("postgres://u@h/db")
    assert not is_postgresql_url("/var/lib/stakepool/ledger.sqlite")
    assert not is_postgresql_url("postgresql.sqlite")
