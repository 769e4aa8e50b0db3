"""Settling and explaining one window of a big pool: CPU time and peak RSS of the daemon's side.

A 2,000,000-validator simulated mainnet (in a child process, so its memory and CPU are not ours)
with a 100,000-validator pool spread over the registry. The parent runs ``RewardsFetcher.settle``
(validator records at both ends of the window, pending deposits, the window's blocks) and then
``RewardsFetcher.explain`` (attestation rewards of ``k − 2``, block and sync rewards) for the
newest closed window, ``--repeats`` times, and prints the medians of wall time and of the parent's
CPU time, plus the parent's peak RSS. Figures are printed, never asserted: these machines are
shared and noisy.

    .venv/bin/python bench/bench_rewards_epoch.py [--validators 2000000] [--pool 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards import RewardsFetcher


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(conn: Connection, validators: int, preset: str, epochs: int) -> None:
    """Child: build the network, step it, serve it until the parent says stop."""

    async def main() -> None:
        from stakepool.sim.chain import SimChain, SimConfig  # noqa: PLC0415
        from stakepool.sim.server import SimServer  # noqa: PLC0415

        t0 = time.perf_counter()
        chain = SimChain(SimConfig(validators=validators, preset=preset, seed=7))
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        chain.advance_epochs(epochs)
        stepped = time.perf_counter() - t0
        async with SimServer(chain) as server:
            conn.send(
                {
                    "url": server.url,
                    "build_s": built,
                    "step_s": stepped,
                    "head_slot": chain.head_slot,
                    "slots_per_epoch": chain.params.slots_per_epoch,
                }
            )
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send({"sim_peak_rss_mb": _rss_mb()})

    asyncio.run(main())


async def _bench(info: dict[str, Any], pool: list[int], repeats: int) -> list[str]:
    spe = int(info["slots_per_epoch"])
    window = int(info["head_slot"]) // spe - 1  # the newest closed window
    out: list[str] = []
    async with BeaconClient([info["url"]], timeout=120, bulk_timeout=600) as client:
        genesis = await client.get_genesis()
        spec = ChainSpec.from_api(
            await client.get_spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        fetcher = RewardsFetcher(client, spec, keep_windows=1)
        rss_before = _rss_mb()
        rows: dict[str, tuple[list[float], list[float]]] = {
            "settle": ([], []),
            "explain": ([], []),
            "settle + explain": ([], []),
        }
        residual_nonzero = 0
        explained = False
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            settled = await fetcher.settle(window, pool)
            w1, c1 = time.perf_counter(), time.process_time()
            done = await fetcher.explain(settled)
            w2, c2 = time.perf_counter(), time.process_time()
            for name, wall, cpu in (
                ("settle", w1 - w0, c1 - c0),
                ("explain", w2 - w1, c2 - c1),
                ("settle + explain", w2 - w0, c2 - c0),
            ):
                rows[name][0].append(wall)
                rows[name][1].append(cpu)
            explained = done.explanation_available
            residual_nonzero = sum(1 for v in done.validators if v.residual_gwei != 0)
        for name, (walls, cpus) in rows.items():
            out.append(
                f"{name:<18} wall median {statistics.median(walls):7.2f} s   "
                f"CPU median {statistics.median(cpus):7.2f} s   "
                f"(CPU min {min(cpus):.2f}, max {max(cpus):.2f})"
            )
        out.append(
            f"window {window}: {len(pool):,} validators, explained={explained}, "
            f"non-zero residuals {residual_nonzero}"
        )
        out.append(
            f"daemon-side peak RSS: {_rss_mb():.0f} MB (was {rss_before:.0f} MB before the runs)"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=2_000_000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--preset", default="mainnet")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to step before measuring")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.pool > args.validators:
        parser.error("the pool cannot be larger than the network")

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve, args=(child, args.validators, args.preset, args.epochs), daemon=True
    )
    proc.start()
    info = parent.recv()
    stride = args.validators // args.pool
    pool = [i * stride for i in range(args.pool)]
    print(
        f"network {args.validators:,} validators ({args.preset}), pool {len(pool):,}; "
        f"sim built in {info['build_s']:.2f} s, stepped {args.epochs} epochs in "
        f"{info['step_s']:.2f} s (head slot {info['head_slot']})"
    )
    try:
        for line in asyncio.run(_bench(info, pool, args.repeats)):
            print(line)
    finally:
        parent.send("stop")
        sim = parent.recv()
        proc.join(timeout=30)
    print(f"simulator process peak RSS: {sim['sim_peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
