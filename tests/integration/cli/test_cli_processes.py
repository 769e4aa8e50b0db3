"""The real command line, as an operator runs it: `stakepool sim`, `stakepool run`, `demo`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.processes import STAKEPOOL, clean_env, simulator


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=2) as answer:
        body: dict[str, object] = json.load(answer)
        return body


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    with simulator(tmp_path, slot_seconds="0.1", offline="60..63") as url:
        yield url


def test_sim_serves_the_standard_api_with_offline_validators(sim_url: str) -> None:
    spec = _get_json(sim_url + "/eth/v1/config/spec")["data"]
    assert isinstance(spec, dict)
    assert spec["SLOTS_PER_EPOCH"] == "8"
    assert spec["SLOT_DURATION_MS"] == "100"
    assert "SECONDS_PER_SLOT" not in spec  # 0.1 s is not a whole number of seconds
    deadline = time.monotonic() + 20
    while True:  # wait until epoch 2 so epoch 0's liveness is settled
        head = _get_json(sim_url + "/eth/v1/beacon/headers/head")["data"]
        assert isinstance(head, dict)
        if int(head["header"]["message"]["slot"]) >= 17:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    request = urllib.request.Request(
        sim_url + "/eth/v1/validator/liveness/1",
        data=json.dumps(["0", "59", "60", "63"]).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=2) as answer:
        live = {int(e["index"]): e["is_live"] for e in json.load(answer)["data"]}
    assert live == {0: True, 59: True, 60: False, 63: False}


def test_run_follows_the_sim_logs_json_and_stops_on_sigterm(sim_url: str, tmp_path: Path) -> None:
    config = tmp_path / "stakepool.toml"
    config.write_text(
        f'[beacon]\nurls = ["{sim_url}"]\n[pool]\nid = "test-pool"\nvalidators = [0, 1, 62]\n'
        "[http]\nport = 0\n"
    )
    proc = subprocess.Popen(
        [*STAKEPOOL, "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
        cwd=tmp_path,  # the default ledger.sqlite goes there, not into the checkout
    )
    assert proc.stdout is not None
    events: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    try:
        for line in proc.stdout:  # not a TTY: one JSON object per line
            events.append(json.loads(line))
            if events[-1]["event"] == "epoch_closed" or time.monotonic() > deadline:
                break
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 5
    names = [e["event"] for e in events] + [json.loads(x)["event"] for x in rest.splitlines()]
    assert "started" in names
    assert "epoch_closed" in names
    assert names[-1] == "stopped"
    closed = next(e for e in events if e["event"] == "epoch_closed")
    assert closed["validators"] == 3


def test_demo_stops_by_itself_after_n_epochs() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [*STAKEPOOL, "demo", "--epochs", "2", "--slot-seconds", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "simulated beacon node at http://127.0.0.1:" in out
    assert out.count(" closed at slot ") == 2
    assert "pool: 32 validators" in out
    assert " ETH" in out
    assert time.monotonic() - started < 60


def test_demo_shows_the_ledger_and_the_top_delegators() -> None:
    done = subprocess.run(
        [*STAKEPOOL, "demo", "--epochs", "4", "--slot-seconds", "0.1"],
        capture_output=True,
        text=True,
        timeout=90,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Window k is settled once k + 1 closed: epochs 1 and 2 by the end of epoch 3.
    for epoch in (1, 2):
        assert f"  ledger epoch {epoch} (provisional): pool reward +" in out, out
    assert "fee " in out
    assert " delegators +" in out
    assert "pool totals (final / with provisional)" in out
    ranks = [line.split()[1] for line in out.splitlines() if line.strip().startswith("#1 ")]
    assert ranks
    assert set(ranks) == {"alice"}


def test_check_config_exit_code_from_the_shell(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[pool]\nfee_bps = -5\n")
    done = subprocess.run(
        [*STAKEPOOL, "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pool.fee_bps" in done.stderr
