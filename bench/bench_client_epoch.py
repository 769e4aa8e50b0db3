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

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from stakepool.beacon.client import BeaconClient

sys.path.insert(0, str(Path(__file__).parent))
import simnet


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


async def _bench(network: simnet.Network, pool: list[int], repeats: int) -> list[str]:
    spe = network.slots_per_epoch
    head_epoch = network.head_slot // spe
    state_slot = head_epoch * spe - 1  # the last slot of the epoch before the head's
    rewards_epoch = head_epoch - 2  # the newest epoch whose attestation rewards exist
    out: list[str] = []
    async with BeaconClient([network.url], timeout=60, bulk_timeout=300) as client:

        async def balances() -> int:
            return len((await client.state.balances(state_slot, pool)).data)

        async def duties() -> int:
            return len((await client.duties.attester(head_epoch, pool)).data)

        async def rewards() -> int:
            answer = await client.rewards.attestations(rewards_epoch, pool)
            assert answer is not None, "attestation rewards not available"
            return len(answer.data.total_rewards)

        async def epoch() -> int:
            counts = await asyncio.gather(balances(), duties(), rewards())
            return sum(counts)

        await balances()  # warm the connection and the server's caches once
        rss_before = simnet.rss_mb()
        for name, call in (
            (f"balances @ slot {state_slot}", balances),
            (f"attester duties epoch {head_epoch}", duties),
            (f"attestation rewards epoch {rewards_epoch}", rewards),
            ("all three, concurrently", epoch),
        ):
            times, count = await _timed(repeats, call)
            out.append(_line(name, times, count))
        out.append(
            f"client process peak RSS: {simnet.rss_mb():.0f} MB "
            f"(was {rss_before:.0f} MB before the timed fetches)"
        )
    return out


def main() -> None:
    _, args = simnet.arguments(__doc__, repeats=5)
    simnet.run(args, _bench)


if __name__ == "__main__":
    main()
