"""One epoch of a big pool through the client: balances, attester duties, attestation rewards.

A 2,000,000-validator simulated mainnet (in a child process, so its memory is not ours) with a
100,000-validator pool. The parent times fetching and parsing, through ``BeaconClient``, of

* the pool's balances at the last slot of an epoch (``POST validator_balances`` in batches),
* the pool's attester duties for the current epoch (``POST duties/attester``),
* the pool's attestation rewards for a finished epoch (``POST rewards/attestations``),

and reports medians over ``--repeats`` runs plus the parent's peak RSS. Figures are printed,
never asserted: these machines are shared and noisy.

    .venv/bin/python bench/bench_client_epoch.py [--validators 2000000] [--pool 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from stakepool.beacon.client import BeaconClient


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


async def _timed(repeats: int, call: Callable[[], Awaitable[int]]) -> tuple[list[float], int]:
    times: list[float] = []
    count = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        count = await call()
        times.append(time.perf_counter() - t0)
    return times, count


def _line(name: str, times: list[float], count: int) -> str:
    med = statistics.median(times)
    return (
        f"{name:<28} median {med * 1000:8.1f} ms   min {min(times) * 1000:8.1f}   "
        f"max {max(times) * 1000:8.1f}   entries {count:>7}   {count / med:>10,.0f} entries/s"
    )


async def _bench(info: dict[str, Any], pool: list[int], repeats: int) -> list[str]:
    spe = int(info["slots_per_epoch"])
    head_epoch = int(info["head_slot"]) // spe
    state_slot = head_epoch * spe - 1  # the last slot of the epoch before the head's
    rewards_epoch = head_epoch - 2  # the newest epoch whose attestation rewards exist
    out: list[str] = []
    async with BeaconClient([info["url"]], timeout=60, bulk_timeout=300) as client:

        async def balances() -> int:
            return len((await client.get_balances(state_slot, pool)).data)

        async def duties() -> int:
            return len((await client.get_attester_duties(head_epoch, pool)).data)

        async def rewards() -> int:
            answer = await client.get_attestation_rewards(rewards_epoch, pool)
            assert answer is not None, "attestation rewards not available"
            return len(answer.data.total_rewards)

        async def epoch() -> int:
            counts = await asyncio.gather(balances(), duties(), rewards())
            return sum(counts)

        await balances()  # warm the connection and the server's caches once
        rss_before = _rss_mb()
        for name, call in (
            (f"balances @ slot {state_slot}", balances),
            (f"attester duties epoch {head_epoch}", duties),
            (f"attestation rewards epoch {rewards_epoch}", rewards),
            ("all three, concurrently", epoch),
        ):
            times, count = await _timed(repeats, call)
            out.append(_line(name, times, count))
        out.append(
            f"client process peak RSS: {_rss_mb():.0f} MB "
            f"(was {rss_before:.0f} MB before the timed fetches)"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=2_000_000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--preset", default="mainnet")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to step before measuring")
    parser.add_argument("--repeats", type=int, default=5)
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
    # Spread the pool over the registry, as a real pool's indices are.
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
