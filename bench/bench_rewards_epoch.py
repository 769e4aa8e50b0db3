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

import statistics
import sys
import time
from pathlib import Path

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.fetcher import RewardsFetcher

sys.path.insert(0, str(Path(__file__).parent))
import simnet


async def _bench(network: simnet.Network, pool: list[int], repeats: int) -> list[str]:
    spe = network.slots_per_epoch
    window = network.head_slot // spe - 1  # the newest closed window
    out: list[str] = []
    async with BeaconClient([network.url], timeout=120, bulk_timeout=600) as client:
        genesis = await client.node.genesis()
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        fetcher = RewardsFetcher(client, spec, keep_windows=1)
        rss_before = simnet.rss_mb()
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
            f"daemon-side peak RSS: {simnet.rss_mb():.0f} MB (was {rss_before:.0f} MB before the runs)"
        )
    return out


def main() -> None:
    _, args = simnet.arguments(__doc__, repeats=3)
    simnet.run(args, _bench)


if __name__ == "__main__":
    main()
