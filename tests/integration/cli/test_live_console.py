"""On a terminal, ``stakepool demo`` and ``stakepool run`` draw the live screen (run here on a
real pseudo-terminal); off a terminal the demo prints plain lines, without a line per slot."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.processes import STAKEPOOL, clean_env, simulator

SECTIONS = ("chain", "head", "finality", "duties · epoch", "monitor events", "top delegators")


class Terminal:
    """A process on a 120×60 pseudo-terminal; ``screen`` is everything it wrote, escapes and all."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 120, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=clean_env(TERM="xterm-256color", COLUMNS="120", LINES="60"),
            cwd=cwd,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def read(self, until: Callable[[str], bool], seconds: float) -> None:
        """Read until ``until(screen)``, the process ends, or ``seconds`` pass (bounded)."""
        deadline = time.monotonic() + seconds
        while not until(self.screen) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the other side closed
                return
            if not chunk:
                return
            self.screen += chunk.decode("utf-8", errors="replace")

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.read(lambda _: False, 15)  # drain what it writes while stopping
        code = self.proc.wait(timeout=15)
        os.close(self.master)
        return code


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    with simulator(tmp_path, slot_seconds="0.1") as url:
        yield url


def test_demo_on_a_terminal_draws_the_live_screen(tmp_path: Path) -> None:
    term = Terminal([*STAKEPOOL, "demo", "--epochs", "3", "--slot-seconds", "0.1"], tmp_path)
    try:
        term.read(lambda s: term.proc.poll() is not None, 120)
    finally:
        code = term.close()
    assert code == 0, term.screen[-3000:]
    for section in (*SECTIONS, "last settled epochs"):
        assert section in term.screen, section
    assert "╭─" in term.screen  # drawn panels, not log lines
    assert "\x1b[" in term.screen  # a terminal's styles
    assert "head slot" not in term.screen  # no line per slot
    assert "Traceback" not in term.screen


def test_run_on_a_terminal_draws_the_live_screen_and_stops_cleanly(
    sim_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "stakepool.toml"
    config.write_text(
        f'[beacon]\nurls = ["{sim_url}"]\n[pool]\nvalidators = [0, 1, 62]\n[http]\nport = 0\n',
        encoding="utf-8",
    )
    term = Terminal([*STAKEPOOL, "run", "--config", str(config)], tmp_path)
    try:
        term.read(lambda s: "duties · epoch" in s, 60)
    finally:
        code = term.close()
    assert code == 0, term.screen[-3000:]
    for section in SECTIONS:
        assert section in term.screen, section
    assert f"via {sim_url}" in term.screen
    assert '{"' not in term.screen  # the live screen, not the JSON log
    assert "Traceback" not in term.screen


def test_demo_off_a_terminal_prints_lines_and_no_line_per_slot() -> None:
    done = subprocess.run(
        [*STAKEPOOL, "demo", "--epochs", "2", "--slot-seconds", "0.05"],
        capture_output=True,
        text=True,
        timeout=90,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert " closed at slot " in done.stdout
    assert "head slot" not in done.stdout
    assert "╭─" not in done.stdout
    assert "\x1b[" not in done.stdout
