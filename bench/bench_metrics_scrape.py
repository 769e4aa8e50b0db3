"""Time and size of a `/metrics` scrape: a per-validator pool (64) and a large grouped one (100,000).

Builds a ``Metrics`` registry, feeds it one epoch of duty outcomes for every validator (and a
beacon node with 12 routes), then renders the exposition as ``/metrics`` would (median of 5).
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import statistics
import time
from types import MappingProxyType

from stakepool.beacon.health import DURATION_BUCKETS, NodeHealth, RouteStats
from stakepool.monitor.verdicts import AttestationVerdict, ProposalVerdict
from stakepool.publish.metrics import Metrics


def _node() -> NodeHealth:
    stats = RouteStats(10, 1, 1.5, 0.4, tuple(10 for _ in DURATION_BUCKETS))
    routes = {f"GET /eth/v1/route/{i}": stats for i in range(12)}
    return NodeHealth("http://127.0.0.1:5052", True, 100, time.time(), None, None, None,
                      MappingProxyType(routes))  # fmt: skip


def measure(pool: int, groups: int, limit: int = 64) -> None:
    metrics = Metrics(per_validator_limit=limit)
    node = _node()
    metrics.watch_beacon(lambda: [node])
    started = time.perf_counter()
    metrics.set_pool((i, f"vc-{i % groups}") for i in range(pool))
    configure = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(pool):
        if i % 50 == 0:
            metrics.duties.record_attestation(i, AttestationVerdict.MISSED)
        else:
            metrics.duties.record_attestation(i, AttestationVerdict.INCLUDED, inclusion_delay=1)
    metrics.duties.record_proposal(0, ProposalVerdict.PROPOSED)
    record = time.perf_counter() - started
    times, cpu = [], []
    body = b""
    for _ in range(5):
        started, cpu_started = time.perf_counter(), time.process_time()
        body = metrics.render()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(
        f"pool {pool:>7,} ({'per-validator' if pool <= limit else f'{groups} groups'}): "
        f"set_pool {configure * 1000:.1f} ms, one epoch of attestations {record * 1000:.1f} ms, "
        f"scrape {statistics.median(times) * 1000:.2f} ms (CPU {statistics.median(cpu) * 1000:.2f} ms),"
        f" {len(body):,} bytes, {series:,} samples"
    )


if __name__ == "__main__":
    measure(64, groups=4)
    measure(100_000, groups=16)
