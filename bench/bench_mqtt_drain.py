"""Outbox → broker throughput: how fast a backlog drains to a local mosquitto, QoS 1.

Starts Debian's ``mosquitto`` on a free loopback port (persistence off), enqueues ``--events``
monitor-like events (two in five of them alerts, so published twice) into a fresh SQLite outbox,
runs the publisher until the outbox is empty and a QoS 1 subscriber has every event, and prints
the median over ``--repeats`` runs of the drain time and events per second. Also times
``enqueue`` of the backlog itself. Figures are printed, never asserted.

    .venv/bin/python bench/bench_mqtt_drain.py [--events 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiomqtt

from stakepool.config import MqttSettings
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import MqttPublisher
from stakepool.store import outbox
from stakepool.store.database import Database
from stakepool.store.envelope import outbox_event
from stakepool.store.outbox_queue import OutboxQueue

KINDS = (("duty_missed", "warning"), ("block_proposed", "info"), ("epoch_settled", None),
         ("status_changed", "info"), ("validator_slashed", "critical"))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(count: int) -> list[outbox.OutboxEvent]:
    out = []
    for n in range(count):
        kind, severity = KINDS[n % len(KINDS)]
        out.append(outbox_event(kind=kind, event_id=f"{kind}:{n}", severity=severity,
                                pool_id="bench", epoch=100 + n // 1000, slot=None,
                                validator_index=n % 100_000,
                                data={"duty": "attestation", "missed_reward_gwei": "14250"},
                                timestamp=1_700_000_000 + n))  # fmt: skip
    return out


async def _one_run(
    port: int, workdir: Path, events: list[outbox.OutboxEvent]
) -> tuple[float, float]:
    db = Database.open(workdir / f"ledger-{time.monotonic_ns()}.sqlite")
    started = time.perf_counter()
    db.write_sync(lambda conn: outbox.enqueue(conn, events, max_rows=10_000_000))
    enqueue = time.perf_counter() - started
    publisher = MqttPublisher(MqttSettings(url=f"mqtt://127.0.0.1:{port}"), OutboxQueue(db),
                              Metrics(pool_id="bench").delivery, pool_id="bench")  # fmt: skip
    received = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-sub",
                              max_queued_incoming_messages=0) as sub:  # fmt: skip
        await sub.subscribe("stakepool/bench/events/#", qos=1)
        started = time.perf_counter()
        task = asyncio.create_task(publisher.run())
        async for _ in sub.messages:
            received += 1
            if received == len(events):
                break
        for _ in range(10_000):  # bounded: the last acks follow the last PUBACKs
            if not db.read_sync(outbox.depth):
                break
            await asyncio.sleep(0.01)
        drain = time.perf_counter() - started
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    db.close()
    return enqueue, drain


def main(count: int, repeats: int) -> None:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = _free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"persistence false\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
                        "max_queued_messages 0\n")  # fmt: skip
        broker = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            events = _events(count)
            runs = [asyncio.run(_one_run(port, workdir, events)) for _ in range(repeats)]
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    enqueue = statistics.median(r[0] for r in runs)
    drain = statistics.median(r[1] for r in runs)
    alerts = sum(1 for e in events if e.severity in ("warning", "critical"))
    print(f"events: {count} ({alerts} also as alerts), median of {repeats} runs")
    print(f"enqueue (one transaction): {enqueue * 1000:.0f} ms")
    print(f"drain to the broker (QoS 1, acked): {drain:.2f} s = {count / drain:,.0f} events/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    main(args.events, args.repeats)
