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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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


class _Clusters:
    """Clusters in one temp dir, owned by the ``postgres`` user when root (initdb refuses root)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stakepool-pg-"))
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.started: list[Path] = []

    def run(self, *argv: str) -> None:
        subprocess.run(
            [*self.as_postgres, *argv],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
        )

    def initdb(self, name: str) -> Path:
        data = self.root / name
        self.run(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        return data

    def start(self, data: Path, *settings: str) -> str:
        """Starts the cluster in ``data`` on a free port; its admin URL."""
        port = _free_port()
        options = [f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"]
        options += [f"-c {s}" for s in settings]
        self.run(
            _bin("pg_ctl"), "-D", str(data), "-l", f"{data}.log", "-o", " ".join(options),
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip
        self.started.append(data)
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self, data: Path) -> None:
        subprocess.run(
            [*self.as_postgres, _bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )

    def close(self) -> None:
        for data in reversed(self.started):
            self.stop(data)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_cluster() -> Iterator[str]:
    """A throwaway cluster on a free port; yields its admin URL, stops and removes it after."""
    clusters = _Clusters()
    try:
        yield clusters.start(clusters.initdb("data"))
    finally:
        clusters.close()


@dataclass(frozen=True)
class StreamingPair:
    primary: str
    """The primary's admin URL."""
    replica: str
    """Its hot standby's admin URL (the same databases, read-only, replayed from the primary)."""
    stop_replica: Callable[[], None]


@contextmanager
def streaming_pair() -> Iterator[StreamingPair]:
    """A private primary (``wal_level=replica``) and a hot standby cloned from it by
    ``pg_basebackup -R``, streaming; both stopped and removed after."""
    clusters = _Clusters()
    try:
        primary_data = clusters.initdb("primary")
        primary = clusters.start(primary_data, "wal_level=replica", "max_wal_senders=4")
        port = primary.rsplit(":", 1)[1].split("/")[0]
        standby_data = clusters.root / "standby"
        clusters.run(
            _bin("pg_basebackup"), "-D", str(standby_data), "-h", "127.0.0.1", "-p", port,
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        replica = clusters.start(standby_data, "hot_standby=on", "hot_standby_feedback=on")
        yield StreamingPair(primary, replica, lambda: clusters.stop(standby_data))
    finally:
        clusters.close()


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
