"""A real PostgreSQL for the tests: the server at 127.0.0.1:5432 when one answers, else a private
cluster from Debian's ``postgresql`` package (``initdb``/``pg_ctl`` in a temp dir, run as the
``postgres`` user when root), so a fresh machine with no server passes too. Each test gets a
fresh database (a random name, dropped after).

``STAKEPOOL_TEST_POSTGRES=private`` forces the private cluster (how its path is tested here, where
a server answers); ``STAKEPOOL_TEST_POSTGRES=postgresql://…`` names another server's admin URL.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg

SHARED_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START_TIMEOUT_SECONDS = 60


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise RuntimeError(
            f"no PostgreSQL at 127.0.0.1:5432 and no {tool} under /usr/lib/postgresql/*/bin:"
            " install Debian's postgresql package (scripts/test does)"
        )
    return found[-1]  # the newest major version installed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_cluster() -> Iterator[str]:
    """A throwaway cluster on a free port; yields its admin URL, stops and removes it after."""
    root = Path(tempfile.mkdtemp(prefix="stakepool-pg-"))
    data = root / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_postgres, _bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_SECONDS,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_postgres, _bin("pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run(
        [*ctl, "-o", options, "-w", "-t", str(START_TIMEOUT_SECONDS), "start"],
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_SECONDS + 10,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def admin_url() -> Iterator[str]:
    """The server the tests use, for the whole session."""
    chosen = os.environ.get("STAKEPOOL_TEST_POSTGRES", "")
    if chosen.startswith("postgresql://"):
        yield chosen
    elif chosen != "private" and _answers("127.0.0.1", 5432):
        yield SHARED_ADMIN_URL
    else:
        with private_cluster() as url:
            yield url


def database_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


@contextmanager
def fresh_database(admin: str) -> Iterator[str]:
    """A new, empty database of a random name; yields its URL, drops it after."""
    name = "stakepool_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RING_SIZE = 4
"""Databases one test holds at most at once; a test that asks for more (a hypothesis test, one
pair per example) gets the oldest back, emptied: dropping a database costs a checkpoint (~0.3 s),
emptying one a TRUNCATE."""


def empty(url: str) -> None:
    """Every table's rows gone and identities restarted; the schema (and its version) stays."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


class DatabaseRing:
    """Fresh databases for one test: new ones up to ``RING_SIZE``, then the oldest emptied."""

    def __init__(self, admin: str, stack: ExitStack) -> None:
        self._admin = admin
        self._stack = stack
        self._urls: list[str] = []
        self._next = 0

    def take(self) -> str:
        if len(self._urls) < RING_SIZE:
            url = self._stack.enter_context(fresh_database(self._admin))
            self._urls.append(url)
            return url
        url = self._urls[self._next % RING_SIZE]
        self._next += 1
        empty(url)
        return url
