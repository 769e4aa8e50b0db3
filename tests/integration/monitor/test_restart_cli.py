"""``stakepool run`` killed with SIGKILL in the middle of an epoch and started again: its log tells
each monitor event once, exactly those an uninterrupted daemon tells, and its saved counters
agree with what it told.

One ``stakepool sim`` process (validators 60..63 offline); two ``stakepool run`` processes follow
it at once with their own databases: A without interruption, B killed right after it logged
``epoch_closed`` for epoch 2 (the monitor's work on that epoch is then under way), then restarted.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.integration.processes import STAKEPOOL, clean_env, simulator

POOL = [0, 1, 2, 3, 4, 5, 6, 7, 60, 61]
OFFLINE = (60, 61)
AFTER_KILL = 4
"""Epochs B processes after the one it was killed in, before both daemons are compared."""


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _wait_for(check: Any, what: str, procs: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode} waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _duties_epochs(path: Path) -> list[int]:
    return [int(e["epoch"]) for e in _lines(path) if e.get("event") == "epoch_duties"]


def _start_run(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )


def test_sigkill_mid_epoch_then_restart_tells_each_event_once(tmp_path: Path) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    # The simulator serves 8 epochs of history: 0.25 s slots make 16 s, more than a restart takes.
    with simulator(tmp_path, slot_seconds="0.25", offline="60..63") as url:
        try:
            configs = {}
            for name in ("a", "b"):
                configs[name] = tmp_path / f"{name}.toml"
                configs[name].write_text(
                    f'[beacon]\nurls = ["{url}"]\n[pool]\nvalidators = {POOL}\n'
                    f'[http]\nport = 0\n[ledger]\ndatabase = "{tmp_path / name}.sqlite"\n'
                )
            log_a, log_b1, log_b2 = tmp_path / "a.log", tmp_path / "b1.log", tmp_path / "b2.log"
            a = _start_run(configs["a"], log_a)
            b = _start_run(configs["b"], log_b1)
            procs = [a, b]

            # B has saved an epoch, and has just begun the next one when it is killed.
            _wait_for(lambda: _duties_epochs(log_b1), "B's first epoch", procs, 40)
            saved_epoch = _duties_epochs(log_b1)[0]

            def b_closing() -> bool:
                return any(
                    e.get("event") == "epoch_closed" and int(e["epoch"]) > saved_epoch
                    for e in _lines(log_b1)
                )

            _wait_for(b_closing, "B's next epoch_closed", procs, 40)
            b.send_signal(signal.SIGKILL)
            assert b.wait(timeout=10) == -signal.SIGKILL
            time.sleep(1.0)  # with the restart itself, more than an epoch passes while B is down
            b = _start_run(configs["b"], log_b2)
            procs = [a, b]
            last = saved_epoch + 1 + AFTER_KILL
            _wait_for(
                lambda: (
                    max(_duties_epochs(log_a), default=-1) >= last
                    and max(_duties_epochs(log_b2), default=-1) >= last
                ),
                f"epoch {last} in both daemons",
                procs,
                60,
            )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            codes = [p.wait(timeout=15) for p in procs]
    assert codes == [0, 0]

    # Epochs: B's two lives together process every epoch once, in order, none skipped.
    b_epochs = _duties_epochs(log_b1) + _duties_epochs(log_b2)
    assert b_epochs == list(range(b_epochs[0], b_epochs[-1] + 1)), b_epochs
    a_epochs = _duties_epochs(log_a)
    first = max(a_epochs[0], b_epochs[0])

    def told(*logs: Path) -> list[tuple[str, str, int]]:
        return [
            (e["event_id"], e["event"], int(e["epoch"]))
            for log in logs
            for e in _lines(log)
            if "event_id" in e and "epoch" in e
        ]

    def window(events: list[tuple[str, str, int]]) -> Counter[str]:
        # Attestations of e are judged when e + 1 closes: [first, last − 1] is complete in both.
        return Counter(i for i, _, epoch in events if first <= epoch <= last - 1)

    b_told = told(log_b1, log_b2)
    assert max(Counter(i for i, _, _ in b_told).values()) == 1, "an event was told twice"
    assert window(b_told) == window(told(log_a))
    kinds = {kind for i, kind, _ in b_told if i in window(b_told)}
    assert {"attestation_missed", "attestation_streak"} <= kinds, kinds

    # The saved counters are the totals of what B told, across the kill.
    with sqlite3.connect(tmp_path / "b.sqlite") as conn:
        (text,) = conn.execute("SELECT value FROM kept_state WHERE key = 'monitor'").fetchone()
    counters = json.loads(text)["metrics"]["counters"]["attestations"]
    saved = {(c[0]["validator"], c[0]["outcome"]): c[1] for c in counters}
    for v in OFFLINE:
        told_missed = [
            e
            for e in _lines(log_b1) + _lines(log_b2)
            if e.get("event") == "attestation_missed" and e["validator_index"] == v
        ]
        assert told_missed
        assert saved[(str(v), "missed")] == len(told_missed)
        assert (str(v), "included") not in saved
        # Validator 0 attests every epoch: as many inclusions as the offline ones' misses.
        assert saved[("0", "included")] == len(told_missed)
