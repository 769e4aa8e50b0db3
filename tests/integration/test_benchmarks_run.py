"""Every benchmark still runs (at toy sizes): a refactor must not leave one broken unnoticed.

Figures are not checked (benchmarks print them; these machines are too noisy to assert on time),
only that each script finishes and prints its result lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.processes import clean_env

BENCH = Path(__file__).resolve().parents[2] / "bench"
SMALL_NET = ["--validators", "20000", "--pool", "1000", "--repeats", "1"]

CASES = {
    "bench_client_epoch.py": ([*SMALL_NET], "balances"),
    "bench_rewards_epoch.py": ([*SMALL_NET], "settle + explain"),
    "bench_monitor_epoch.py": ([*SMALL_NET], "on_epoch_closed CPU"),
    "bench_daemon_epoch.py": ([*SMALL_NET, "--delegators", "50"], "whole epoch"),
    # The daemon and the simulator as two processes, with mosquitto: end to end at a toy size.
    "bench_daemon_process.py": (
        ["--validators", "2000", "--pool", "100", "--delegators", "50", "--preset", "minimal"]
        + ["--slot-seconds", "0.5", "--epochs", "2"],
        "daemon epoch CPU median",
    ),
    "bench_ledger.py": (
        ["--sizes", "100,1000", "--epochs", "3", "--queries", "20", "--size-epochs", "20"],
        "db size",
    ),
    # Both engines in one run; the PostgreSQL side on the tests' server (``postgres_admin``).
    "bench_ledger_engines.py": (
        ["--sizes", "100,1000", "--epochs", "3", "--queries", "20", "--size-epochs", "20"],
        "| figure | sqlite | postgresql |",
    ),
    # PostgreSQL only (the tests' server): the partition check, migration 0011 and a prune.
    "bench_detail_partitions.py": (["--epochs", "20", "--blob-kb", "1"], "write path:"),
    "bench_ledger_migrate.py": (
        ["--delegators", "500", "--epochs", "5", "--validators", "16"],
        "copied and verified",
    ),
    "bench_ledger_size.py": (
        ["--validators", "300", "--epochs", "2", "--repeat", "1", "--aged", "5"],
        "bytes/validator-epoch",
    ),
    "bench_retention.py": (
        ["--validators", "300", "--period", "4", "--days", "2"],
        "roll-up + delete s per day",
    ),
    "bench_api.py": (["--delegators", "200", "--queries", "20"], "GET /delegators/{id}"),
    "bench_mqtt_drain.py": (["--events", "200", "--repeats", "1"], "drain to the broker"),
    "bench_metrics_scrape.py": ([], "pool 100,000 (16 groups)"),
    "bench_statements.py": (["--sizes", "100", "--period", "8", "--queries", "5"], "commit"),
    "bench_wire_decode.py": (["--validators", "200", "--repeats", "1"], "msgspec into columns"),
    "bench_web.py": (
        ["--delegators", "100", "--period", "4", "--queries", "5"],
        "GET /delegators/{id}",
    ),
}


def test_every_benchmark_is_covered() -> None:
    assert {p.name for p in BENCH.glob("bench_*.py")} == set(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_at_a_toy_size(script: str, request: pytest.FixtureRequest) -> None:
    args, expected = CASES[script]
    if script in ("bench_ledger_engines.py", "bench_detail_partitions.py"):
        args = [*args, "--pg-admin-url", request.getfixturevalue("postgres_admin")]
    if script == "bench_ledger_migrate.py":  # a PostgreSQL server: the tests' own
        args = [*args, "--admin", request.getfixturevalue("postgres_admin")]
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-2000:]
