"""One full daemon epoch for a 100,000-validator pool on a 2,000,000-validator simulated network:
monitor + rewards + ledger + metrics, as ``app.Daemon.epoch_worker`` runs them.

The network (mainnet preset) runs in a child process, so its memory and CPU are not ours. For each
of ``--repeats`` runs the parent builds the daemon's parts afresh on a new SQLite file (one
``Database`` for monitor and ledger, ``Metrics`` with grouped per-validator families, ``MoneyPath``
with ``--delegators`` delegators from a delegations file, the monitor's keeper saving the ledger's
duty outcomes in its transaction), processes the epoch before as a warm-up (the monitor's block
cache, the ledger's first settled window), then times closing the last closed epoch ``c``:
``MonitorService.on_epoch_closed(c)`` (blocks, records, op pools, proposals, attestations of
``c − 1``, sync, state save), ``MoneyPath.on_epoch_closed(c)`` (finality, rewards window ``c − 1``:
settlement and explanation, the ledger's transaction, ledger metrics) and one Prometheus scrape
(``generate_latest``). The validator records are fetched once outside the timing, as the monitor
bench does (the daemon fetches them for its status gauges and hands them over).

Printed: wall and CPU time (``time.process_time``: this process only) per part, medians, this
process's peak RSS, and the event loop's lag while the epochs ran (the daemon's own probe,
``publish/loop_lag.py``, every 10 ms: p99 and max). Figures only, never asserted: these machines
are shared and noisy.

    .venv/bin/python bench/bench_daemon_epoch.py [--validators 2000000] [--pool 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import generate_latest

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch
from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.head import HeadView
from stakepool.monitor.keeper import MonitorKeeper, chain_key
from stakepool.monitor.service import MonitorService
from stakepool.publish import ledger_metrics
from stakepool.publish.loop_lag import monitor_loop_lag
from stakepool.publish.metrics import Metrics
from stakepool.service import collector
from stakepool.service.logs import configure_logging
from stakepool.service.money import MoneyPath
from stakepool.store.database import Database

sys.path.insert(0, str(Path(__file__).parent))
import simnet

PARTS = ("monitor", "rewards + ledger", "scrape", "quiet-point gc", "whole epoch")
LAG_INTERVAL = 0.01


@contextlib.contextmanager
def _profiled(profiles: list[cProfile.Profile], part: int) -> Iterator[None]:
    """Profile one part (``--profile``); nothing when not profiling."""
    if not profiles:
        yield
        return
    profiles[part].enable()
    try:
        yield
    finally:
        profiles[part].disable()


def _delegations(path: Path, count: int) -> None:
    lines = ["delegator,amount_gwei,from_epoch,to_epoch"]
    lines += [f"d{i},{32_000_000_000 + i},0," for i in range(count)]
    path.write_text("\n".join(lines) + "\n")


async def _one_run(
    client: BeaconClient,
    spec: ChainSpec,
    pool: list[int],
    head: HeadView,
    records: tuple[ValidatorColumns, ValidatorColumns],
    tmp: Path,
    run: int,
    delegators: int,
    profile: str | None,
    gc_mode: str,
) -> tuple[dict[str, tuple[float, float]], list[int], list[float]]:
    epoch = head.epoch - 1
    delegations = tmp / f"delegations{run}.csv"
    _delegations(delegations, delegators)
    settings = Settings(
        beacon={"urls": ["http://127.0.0.1:1"]},
        pool={
            "validators": [parse_validator_ref(pool[0])],
            "delegations_file": str(delegations),
            "delegations_stable_seconds": 0,  # written whole just above
            "fee_bps": 1000,
        },
    )
    db = Database.open(tmp / f"run{run}.sqlite")
    try:
        metrics = Metrics(per_validator_limit=64)
        metrics.set_pool((v, f"vc-{v % 4}") for v in pool)
        bus = EventBus()
        ledger_metrics.subscribe(bus, metrics.ledger)
        money = MoneyPath(settings, db, bus, outbox_max_rows=None)
        watcher = money.ledger.delegations_watcher(lambda: None)
        assert watcher is not None
        assert await watcher.check_once() is not None
        keeper = MonitorKeeper(db, chain_key(spec), digest_writers=[money.duties.write])
        monitor = MonitorService(client, spec, pool, metrics.duties, bus, keeper=keeper)
        await money.start(client, spec, lambda: pool)
        if gc_mode == "daemon":
            collector.freeze_startup()  # as the supervisor does once started

        def paused() -> contextlib.AbstractContextManager[None]:
            """The collector around an epoch: as the daemon's epoch worker runs it, or Python's
            default (``--gc default``) for comparison."""
            if gc_mode == "daemon":
                return collector.without_full_collection()
            return contextlib.nullcontext()

        # Warm-up: the epoch before (the monitor's block cache, the ledger's first window).
        with paused():
            await monitor.on_epoch_closed(Epoch(epoch - 1), head, records[0])
            await money.on_epoch_closed(epoch - 1, head.finalized_epoch)
        times: dict[str, tuple[float, float]] = {}
        # The daemon's own lag probe, every 10 ms: how long the loop went without a turn.
        lags: list[float] = []
        probe = asyncio.create_task(monitor_loop_lag(lags.append, interval=LAG_INTERVAL))
        await asyncio.sleep(0)
        profiles = [cProfile.Profile() for _ in range(3)] if profile is not None else []
        w0, c0 = time.perf_counter(), time.process_time()
        with paused():
            with _profiled(profiles, 0):
                digest = await monitor.on_epoch_closed(Epoch(epoch), head, records[1])
            w1, c1 = time.perf_counter(), time.process_time()
            with _profiled(profiles, 1):
                written = await money.on_epoch_closed(epoch, head.finalized_epoch)
            w2, c2 = time.perf_counter(), time.process_time()
            with _profiled(profiles, 2):
                scraped = generate_latest(metrics.registry)
            w3, c3 = time.perf_counter(), time.process_time()
        w4, c4 = time.perf_counter(), time.process_time()  # after the quiet-point collection
        await asyncio.sleep(2 * LAG_INTERVAL)  # the probe's last wake-up
        probe.cancel()
        for part, prof in zip(PARTS, profiles, strict=False):
            prof.dump_stats(f"{profile}.{part.split()[0]}.{run}")
        times["monitor"] = (w1 - w0, c1 - c0)
        times["rewards + ledger"] = (w2 - w1, c2 - c1)
        times["scrape"] = (w3 - w2, c3 - c2)
        times["quiet-point gc"] = (w4 - w3, c4 - c3)
        times["whole epoch"] = (w4 - w0, c4 - c0)
        assert not digest.failed, digest.failed
        assert b"stakepool_pool_rewards_gwei" in scraped
        await money.close()
        return times, written, lags
    finally:
        db.close()


async def _bench(
    network: simnet.Network,
    pool: list[int],
    repeats: int,
    delegators: int,
    profile: str | None,
    gc_mode: str,
) -> list[str]:
    spe = network.slots_per_epoch
    head_slot = network.head_slot
    epoch = head_slot // spe - 1  # the last closed epoch
    out: list[str] = []
    async with BeaconClient([network.url], timeout=120, bulk_timeout=600) as client:
        spec, head = await simnet.chain_at_head(client, network)
        before = (await client.state.validator_columns((epoch * spe) - 1, pool)).data
        records = (await client.state.validator_columns((epoch + 1) * spe - 1, pool)).data
        rss_before = simnet.rss_mb()
        samples: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in PARTS}
        lags: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(repeats):
                times, written, run_lags = await _one_run(
                    client,
                    spec,
                    pool,
                    head,
                    (before, records),
                    Path(tmp),
                    run,
                    delegators,
                    profile,
                    gc_mode,
                )
                lags += run_lags
                for part, (wall, cpu) in times.items():
                    samples[part][0].append(wall)
                    samples[part][1].append(cpu)
                if run == 0:
                    out.append(f"epoch {epoch} closed; ledger wrote epochs {written}")
    for part, (walls, cpus) in samples.items():
        out.append(
            f"{part:<17} wall median {statistics.median(walls):7.2f} s   "
            f"CPU median {statistics.median(cpus):7.2f} s   "
            f"(CPU min {min(cpus):.2f}, max {max(cpus):.2f}; {repeats} runs)"
        )
    if lags:
        ordered = sorted(lags)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        out.append(
            f"event loop lag during the epochs: p99 {p99 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms ({len(lags)} probes every {LAG_INTERVAL * 1000:.0f} ms)"
        )
    out.append(
        f"daemon process peak RSS: {simnet.rss_mb():.0f} MB "
        f"(was {rss_before:.0f} MB with the records fetched, before any epoch)"
    )
    return out


def main() -> None:
    def delegators_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--delegators", type=int, default=10_000)
        parser.add_argument(
            "--profile",
            default=None,
            help="write cProfile stats per part to PREFIX.<part>.<run> (pstats files)",
        )
        parser.add_argument(
            "--gc",
            choices=("daemon", "default"),
            default="daemon",
            help="the collector as the daemon runs it (frozen after start-up, paused during an"
            " epoch, one young collection after it) or Python's default",
        )

    parser, args = simnet.arguments(__doc__, repeats=3, epochs=5, extra=delegators_option)
    if args.epochs < 4:
        parser.error("at least 4 epochs: the warm-up window needs two epochs before it")
    configure_logging("warning", "console", sys.stderr)  # events are not what is measured
    print(f"{args.delegators:,} delegators in the ledger, collector: {args.gc}")

    async def bench(network: simnet.Network, pool: list[int], repeats: int) -> list[str]:
        return await _bench(network, pool, repeats, args.delegators, args.profile, args.gc)

    simnet.run(args, bench)


if __name__ == "__main__":
    main()
