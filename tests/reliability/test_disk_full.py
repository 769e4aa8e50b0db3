"""The disk under the daemon's database fills up mid-run for two epochs, then has room again.

The database lives on a size-limited tmpfs mounted for the test (``mount -t tmpfs -o size=…``:
needs root, which CI and this machine have, and no loop device or image file). The daemon must not
crash: while the disk is full its settlement pauses (a critical ``ledger_paused`` line,
``stakepool_ledger_paused`` 1, ``/readyz`` 503 saying why) and everything else goes on: the monitor
processes epochs, ``/metrics`` and the ledger API answer. Once there is room again it resumes by
itself, and its ledger ends identical to the undisturbed run's, with no MQTT event lost.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.money.moneykit import SPE
from tests.reliability.conftest import MakeRig
from tests.reliability.daemon import Daemon
from tests.reliability.tally import TALLY


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the disk-full test needs root): {done.stderr}")
    try:
        yield mount
    finally:
        # Lazy: a daemon left running by a failed test must not keep the mount from going.
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk says ENOSPC, in ever smaller pieces down to one byte (bounded:
    the tmpfs is 32 MB), so not a byte is left for the database."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 1 << 20
        for _ in range(10_000):
            try:
                os.write(fd, b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if size == 1:
                    break
                size //= 16 if size > 16 else size
        else:
            raise AssertionError("the small disk never filled up")
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
    return filler


async def test_full_disk_mid_run_loses_nothing(rig: MakeRig, small_disk: Path) -> None:
    stage = await rig(seed=28)
    # The dut's database on the small disk; everything else (logs, delegations) elsewhere.
    dut = await stage.start(dut_db=small_disk / "dut.sqlite")
    await stage.until("the chain at epoch 4", lambda: stage.chain.head_slot >= 4 * SPE, 60)
    filler = fill(small_disk)
    TALLY.outages += 1
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        await stage.until("the dut says ledger_paused", lambda: logged(dut, "ledger_paused"), 30)
        processed = await gauge(http, dut, "stakepool_last_processed_epoch")
        settled = dut.settled()[0]
        ready = await http.get(f"{dut.base}/readyz")
        assert ready.status == 503
        assert "disk is full" in (await ready.json())["reason"]
        assert await gauge(http, dut, "stakepool_ledger_paused") == 1
        pool = await http.get(f"{dut.base}/api/v1/pool")
        assert pool.status == 200, await pool.text()
        assert (await pool.json())["data"]["last_settled_epoch"] == settled
        # Monitoring goes on while the ledger waits: two more epochs processed, none settled.
        await stage.watch(2 * stage.epoch_seconds)
        assert await gauge(http, dut, "stakepool_last_processed_epoch") >= processed + 1
        assert dut.settled()[0] == settled, "settled on a full disk"
        filler.unlink()
        await stage.until("the dut says ledger_resumed", lambda: logged(dut, "ledger_resumed"), 30)
        assert await gauge(http, dut, "stakepool_ledger_paused") == 0
        assert (await http.get(f"{dut.base}/readyz")).status == 200
    out = await stage.finish()
    stage.assert_same(out)
    assert '"fatal_error"' not in dut.log.read_text(errors="replace")


def logged(daemon: Daemon, event: str) -> bool:
    return daemon.log.exists() and f'"event": "{event}"' in daemon.log.read_text(errors="replace")


async def gauge(http: aiohttp.ClientSession, daemon: Daemon, name: str) -> float:
    """One unlabelled sample of ``/metrics``."""
    async with http.get(f"{daemon.base}/metrics") as answer:
        assert answer.status == 200
        for line in (await answer.text()).splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_a_restart_on_a_full_disk_waits_for_room(rig: MakeRig, small_disk: Path) -> None:
    """Killed while the disk is full (a host reboot, an OOM kill), the daemon starts again into
    the full disk: it waits for room with one critical line instead of exiting into a restart
    loop, then opens its ledger and catches up to the undisturbed run."""
    stage = await rig(seed=29)
    dut = await stage.start(dut_db=small_disk / "dut.sqlite")
    await stage.until("the chain at epoch 4", lambda: stage.chain.head_slot >= 4 * SPE, 60)
    filler = fill(small_disk)
    TALLY.outages += 1
    await stage.until("the dut says ledger_paused", lambda: logged(dut, "ledger_paused"), 30)
    dut.kill()
    TALLY.kills += 1
    stage.disturbances += 1  # a kill may leave one batch of events in flight
    dut.start()
    await stage.until(
        "the dut waits for room", lambda: logged(dut, "database_waiting_for_space"), 30
    )
    await stage.watch(stage.epoch_seconds)  # no exit meanwhile (watch counts one as a crash)
    filler.unlink()
    await stage.until("the dut opened its ledger", lambda: logged(dut, "started"), 60)
    out = await stage.finish()
    stage.assert_same(out)
