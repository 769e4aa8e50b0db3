"""The house stands: layers import downwards only, SQL lives in the store, pure modules do no I/O,
no module grows past 400 lines (docs/architecture.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "daemon" / "stakepool"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

SQL = re.compile(
    r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|CREATE\s+TABLE|UPDATE\s+\w+\s+SET)"
)
SQL_HOMES = ("store", "ledger/store")
FILE_IO = re.compile(r"\bopen\(|\.read_text\(|\.write_text\(|\.read_bytes\(|\.write_bytes\(")
PURE = (
    "chain",
    "rewards/maths.py", "rewards/window.py", "rewards/explaining.py", "rewards/types.py",
    "ledger/settlement.py", "ledger/accumulator.py", "ledger/fees.py", "ledger/policy.py",
    "ledger/outbox_events.py", "ledger/facts.py", "monitor/attestations.py", "monitor/proposals.py",
    "monitor/streaks.py", "monitor/status.py", "monitor/slashing.py", "monitor/sync.py",
    "monitor/finality.py", "monitor/doppelganger.py", "monitor/tallies.py",
    "monitor/counting.py", "monitor/saved.py", "monitor/digest.py", "monitor/events.py",
    "ledger/statements.py", "ledger/commitments.py", "ledger/statement_queries.py",
    "ledger/statement_format.py",
)  # fmt: skip


def _lint(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _sources(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_import_contracts_hold() -> None:
    result = _lint(ROOT, ROOT / "daemon")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        ("monitor/streaks.py", "import stakepool.publish.metrics", "Layers"),
        ("ledger/feed.py", "import stakepool.service.money", "Layers"),
        ("chain/spec.py", "import stakepool.store.database", "Layers"),
        ("publish/console.py", "import sqlite3", "Database engine"),
        ("monitor/tallies.py", "import time", "Pure"),
        ("store/outbox.py", "import stakepool.sim.chain", "Simulator used"),
    ],
)
def test_an_upward_or_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, upward: str, contract: str
) -> None:
    """The guard itself: the same contracts on a copy of the package with one bad import."""
    copy = tmp_path / "daemon" / "stakepool"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{upward}  # noqa\n", "utf-8")
    result = _lint(tmp_path, tmp_path / "daemon")
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1, result.stdout
    assert broken[0].startswith(contract), result.stdout


def test_sql_appears_only_in_the_store() -> None:
    stray = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in _sources(PACKAGE)
        if not path.relative_to(PACKAGE).as_posix().startswith((*SQL_HOMES, "sim/"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SQL.search(line)
    ]
    assert stray == []


def test_pure_modules_do_no_file_io() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for entry in PURE
        for path in (_sources(PACKAGE / entry) if (PACKAGE / entry).is_dir() else [PACKAGE / entry])
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if FILE_IO.search(line)
    ]
    assert found == []


def test_pure_modules_import_without_the_event_loop_network_or_database() -> None:
    """At run time too: a package ``__init__`` that re-exports a client would drag them in."""
    modules = [
        "stakepool." + entry.removesuffix(".py").replace("/", ".")
        for entry in PURE
        if entry.endswith(".py")
    ]
    probe = (
        f"import sys\nimport {', '.join(modules)}, stakepool.chain.spec, stakepool.chain.bus\n"
        "print(sorted(m for m in ('aiohttp', 'asyncio', 'sqlite3', 'aiomqtt') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in _sources(PACKAGE)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
