"""The daemon itself, measured from outside: ``stakepool sim`` and ``stakepool run`` as two
processes, a real mosquitto, and the figures an operator would see per epoch.

The simulator (mainnet preset by default, ``--validators`` validators, ``--slot-seconds`` slots)
and the daemon (a pool of ``--pool`` validators spread over the registry, ``--delegators``
delegators from a delegations file, the ledger in a fresh SQLite file, MQTT to a mosquitto on
loopback) are started as an operator starts them. The daemon is let run through ``--warmup``
closed epochs, then for each of the next ``--epochs`` closed epochs ``c`` the bench prints:

- the daemon process's CPU seconds (``utime + stime`` from ``/proc/<pid>/stat``) between the end
  of ``c``'s last slot and the end of the next epoch's last slot: closing ``c`` (report, monitor,
  money path) plus following the heads of ``c + 1``;
- its peak RSS so far (``VmHWM`` from ``/proc/<pid>/status``);
- the time from the end of ``c``'s last slot to the ledger row that closing ``c`` writes (the
  settlement of window ``c − 1``: ``ledger_epochs.settled_at``) and to that row's
  ``epoch_settled`` message arriving at a subscriber of the broker.

At the end: medians over the measured epochs, the peak RSS, the event loop's lag over the
measured epochs (p99 as the upper bound of its bucket in ``stakepool_event_loop_lag_seconds``,
its max as the upper bound of the highest bucket reached and the count of probes late by more
than 100 ms, the worst lag the daemon logged as ``event_loop_blocked``) and the simulator's peak
RSS. The in-process ``bench_daemon_epoch.py`` stays for profiling by part. Figures only, never
asserted.

    .venv/bin/python bench/bench_daemon_process.py [--validators 2000000] [--pool 100000]
        [--delegators 0] [--slot-seconds 1.5] [--warmup 1] [--epochs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

STAKEPOOL = [sys.executable, "-m", "stakepool"]
POOL_ID = "bench"
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    """This environment without what would configure the processes behind the bench's back."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STAKEPOOL_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
    }


def cpu_seconds(pid: int) -> float:
    """``utime + stime`` of the process, from ``/proc/<pid>/stat`` (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    """``VmHWM``: the process's peak resident set so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _wait_for(what: str, ready: Any, proc: subprocess.Popen[bytes], log: Path, s: float) -> None:
    deadline = time.monotonic() + s
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_mosquitto(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A mosquitto on loopback as the MQTT tests start one: anonymous, no persistence, no
    queue limit (the subscriber must see every message)."""
    port = _free_port()
    conf = work / "mosquitto.conf"
    log = work / "mosquitto.log"
    conf.write_text(
        f"user {getpass.getuser()}\npersistence false\nmax_queued_messages 0\n"
        f"log_dest file {log}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    log.touch()
    _wait_for("mosquitto", lambda: _accepts(port), proc, log, 10)
    return proc, port


def start_sim(args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = work / "sim.log"
    with log.open("wb") as out:
        command = [*STAKEPOOL, "sim", "--port", str(port), "--validators", str(args.validators)]
        command += ["--preset", args.preset, "--slot-seconds", str(args.slot_seconds)]
        proc = subprocess.Popen(
            [*command, "--seed", "7"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    url = f"http://127.0.0.1:{port}"
    _wait_for("stakepool sim", lambda: _answers(url + "/eth/v1/beacon/genesis"), proc, log, 300)
    return proc, url


def pool_indices(validators: int, size: int) -> list[int]:
    """``size`` indices spread evenly over the registry, as a real pool's indices are."""
    stride = validators // size
    return [i * stride for i in range(size)]


def write_config(
    args: argparse.Namespace, work: Path, sim_url: str, mqtt_port: int, http_port: int
) -> Path:
    validators = work / "validators.txt"
    validators.write_text("".join(f"{i}\n" for i in pool_indices(args.validators, args.pool)))
    delegations = ""
    if args.delegators:
        path = work / "delegations.csv"
        with path.open("w") as out:
            out.write("delegator,amount_gwei,from_epoch,to_epoch\n")
            out.writelines(f"d{i},{32_000_000_000 + i},0,\n" for i in range(args.delegators))
        delegations = (
            f"delegations_file = {json.dumps(str(path))}\ndelegations_stable_seconds = 0\n"
        )
    config = work / "stakepool.toml"
    config.write_text(
        f'[beacon]\nurls = ["{sim_url}"]\n'
        f'[pool]\nid = "{POOL_ID}"\nvalidators_file = {json.dumps(str(validators))}\n'
        f"fee_bps = 1000\n{delegations}"
        f"[ledger]\ndatabase = {json.dumps(str(work / 'ledger.sqlite'))}\n"
        f"[http]\nport = {http_port}\n"
        '[log]\nformat = "json"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n'
    )
    return config


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``stakepool run`` as an operator starts it, its JSON log lines to ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_env(),
        )


@dataclass
class Epoch:
    epoch: int
    cpu_s: float = math.nan
    hwm_mb: float = math.nan
    ledger_s: float = math.nan
    mqtt_s: float = math.nan


@dataclass
class Timeline:
    genesis: float
    slot_s: float
    slots_per_epoch: int
    settled_at: dict[int, float] = field(default_factory=dict)
    """Ledger epoch → arrival time of its ``epoch_settled`` MQTT message."""

    def epoch_end(self, epoch: int) -> float:
        """Wall-clock end of the epoch's last slot."""
        return self.genesis + (epoch + 1) * self.slots_per_epoch * self.slot_s

    def current_epoch(self) -> int:
        return int((time.time() - self.genesis) // (self.slots_per_epoch * self.slot_s))


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


async def subscribe(port: int, timeline: Timeline, ready: asyncio.Event) -> None:
    topic = f"stakepool/{POOL_ID}/events/epoch_settled"
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic, qos=1)
        ready.set()
        async for message in client.messages:
            arrived = time.time()
            payload = json.loads(bytes(message.payload))
            timeline.settled_at.setdefault(int(payload["chain"]["epoch"]), arrived)


def ledger_rows(database: Path) -> dict[int, float]:
    """Settled epoch → when its row was written (``settled_at``, UTC milliseconds)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT epoch, settled_at FROM ledger_epochs").fetchall()
    out = {}
    for epoch, stamp in rows:
        parsed = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
        out[int(epoch)] = time.mktime(parsed) - time.timezone + float("0" + stamp[19:-1])
    return out


def loop_lag(metrics_text: str) -> tuple[dict[float, float], float]:
    """Cumulative bucket counts of the loop-lag histogram, and its observation count."""
    buckets: dict[float, float] = {}
    count = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("stakepool_event_loop_lag_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("stakepool_event_loop_lag_seconds_count"):
            count = float(line.rsplit(" ", 1)[1])
    return buckets, count


def lag_p99(
    before: tuple[dict[float, float], float], after: tuple[dict[float, float], float]
) -> str:
    """p99 of the lags observed between two scrapes, as the upper bound of its bucket."""
    count = after[1] - before[1]
    if count <= 0:
        return "n/a"
    for le in sorted(after[0]):
        if after[0][le] - before[0].get(le, 0.0) >= 0.99 * count:
            return f"<= {le:g} s ({count:.0f} samples)"
    return "n/a"


def lag_max(
    before: tuple[dict[float, float], float], after: tuple[dict[float, float], float]
) -> str:
    """The worst lag between two scrapes, as the upper bound of its bucket, and how many probes
    were late by more than the issue's 100 ms."""
    count = after[1] - before[1]
    if count <= 0:
        return "n/a"
    late = count - (after[0].get(0.1, 0.0) - before[0].get(0.1, 0.0))
    for le in sorted(after[0]):
        if after[0][le] - before[0].get(le, 0.0) >= count:
            return f"<= {le:g} s; {late:.0f} probes late by more than 0.1 s"
    return f"n/a; {late:.0f} probes late by more than 0.1 s"


def _scrape(http: str) -> str:
    with urllib.request.urlopen(http + "/metrics", timeout=30) as answer:
        return str(answer.read().decode())


def blocked_max(log: Path, since: float) -> float:
    """The worst ``event_loop_blocked`` lag the daemon logged after ``since`` (0: none)."""
    worst = 0.0
    for line in log.read_text(errors="replace").splitlines():
        if "event_loop_blocked" not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            entry = json.loads(line)
            stamp = entry.get("timestamp")
            when = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            if when >= since:
                worst = max(worst, float(entry["lag_seconds"]))
    return worst


async def measure(args: argparse.Namespace, work: Path) -> list[str]:
    out: list[str] = []
    broker, mqtt_port = start_mosquitto(work)
    sim, sim_url = start_sim(args, work)
    daemon: subprocess.Popen[bytes] | None = None
    try:
        genesis = _json(sim_url + "/eth/v1/beacon/genesis")["data"]
        spec = _json(sim_url + "/eth/v1/config/spec")["data"]
        timeline = Timeline(
            genesis=float(genesis["genesis_time"]),
            slot_s=args.slot_seconds,
            slots_per_epoch=int(spec["SLOTS_PER_EPOCH"]),
        )
        ready = asyncio.Event()
        listener = asyncio.create_task(subscribe(mqtt_port, timeline, ready))
        await asyncio.wait_for(ready.wait(), 10)
        http_port = _free_port()
        config = write_config(args, work, sim_url, mqtt_port, http_port)
        log = work / "daemon.log"
        started = time.time()
        daemon = start_daemon(config, log)
        http = f"http://127.0.0.1:{http_port}"
        _wait_for("stakepool run", lambda: _answers(http + "/healthz"), daemon, log, 300)
        out.append(
            f"network {args.validators:,} validators ({args.preset}, {args.slot_seconds} s "
            f"slots), pool {args.pool:,}, {args.delegators:,} delegators; daemon answered "
            f"after {time.time() - started:.1f} s"
        )
        # The first epoch that closes after the daemon is up is the first warm-up epoch.
        first = max(timeline.current_epoch(), 1)
        measured = list(range(first + args.warmup, first + args.warmup + args.epochs))
        rows: list[Epoch] = []
        await _sleep_until(timeline.epoch_end(measured[0]))
        lag_before = loop_lag(_scrape(http))
        cpu = cpu_seconds(daemon.pid)
        measuring_from = time.time()
        for epoch in measured:
            await _sleep_until(timeline.epoch_end(epoch + 1))
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited:\n{log.read_text()[-3000:]}")
            now = cpu_seconds(daemon.pid)
            rows.append(Epoch(epoch, now - cpu, peak_rss_mb(daemon.pid)))
            cpu = now
        lag_after = loop_lag(_scrape(http))
        hwm = peak_rss_mb(daemon.pid)
        # The last measured epoch's row may still be on its way: bounded wait for it.
        for _ in range(int(timeline.slots_per_epoch * 2)):
            if measured[-1] - 1 in timeline.settled_at:
                break
            await asyncio.sleep(args.slot_seconds)
        written = ledger_rows(work / "ledger.sqlite")
        for row in rows:
            end = timeline.epoch_end(row.epoch)
            # Closing epoch c settles window c − 1.
            row.ledger_s = written.get(row.epoch - 1, math.nan) - end
            row.mqtt_s = timeline.settled_at.get(row.epoch - 1, math.nan) - end
            out.append(
                f"epoch {row.epoch}: daemon CPU {row.cpu_s:6.2f} s   peak RSS {row.hwm_mb:5.0f} MB"
                f"   last slot -> ledger row {row.ledger_s:6.2f} s, -> MQTT {row.mqtt_s:6.2f} s"
            )
        out.append(
            f"daemon epoch CPU median {statistics.median(r.cpu_s for r in rows):.2f} s "
            f"(min {min(r.cpu_s for r in rows):.2f}, max {max(r.cpu_s for r in rows):.2f}; "
            f"{len(rows)} epochs)   peak RSS {hwm:.0f} MB"
        )
        out.append(
            f"last slot -> ledger row median {_median(r.ledger_s for r in rows):.2f} s, "
            f"-> MQTT epoch_settled median {_median(r.mqtt_s for r in rows):.2f} s"
        )
        out.append(
            f"event loop lag p99 {lag_p99(lag_before, lag_after)}, "
            f"max {lag_max(lag_before, lag_after)}, worst logged block {blocked_max(log, measuring_from):.2f} s (logged above 1 s)"
        )
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await listener
    finally:
        for proc in (daemon, sim, broker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (daemon, sim, broker):
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
    sim_log = (work / "sim.log").read_text(errors="replace")
    out.append(f"simulator ended with {sim.returncode}; its log: {sim_log.strip()[-200:]!r}")
    return out


def _median(values: Any) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


async def _sleep_until(when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=2_000_000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--delegators", type=int, default=0)
    parser.add_argument("--preset", default="mainnet")
    parser.add_argument("--slot-seconds", type=float, default=1.5)
    parser.add_argument("--warmup", type=int, default=1, help="closed epochs before measuring")
    parser.add_argument("--epochs", type=int, default=3, help="closed epochs measured")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run's files here")
    args = parser.parse_args()
    # Stopped from outside: end like Ctrl-C, so the processes it started are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.pool > args.validators:
        parser.error("the pool cannot be larger than the network")
    if args.epochs < 1 or args.warmup < 1:
        parser.error("at least one warm-up and one measured epoch")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        lines = asyncio.run(measure(args, args.keep))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            lines = asyncio.run(measure(args, Path(tmp)))
    for line in lines:
        print(line, flush=True)


if __name__ == "__main__":
    main()
