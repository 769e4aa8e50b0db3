"""Monitoring one epoch of a 100,000-validator pool on a 2,000,000-validator simulated network.

The network (mainnet preset) runs in a child process, so its memory is not ours. The parent is
the monitor: for each of ``--repeats`` runs it builds a fresh ``MonitorService`` (the pool's
100,000 validators, grouped metrics above the per-validator limit, state saved to a SQLite file
as the daemon does), processes the epoch before (to warm its block cache, as the daemon's previous
epoch would have) and then times ``on_epoch_closed`` for the last closed epoch: its canonical
blocks, the pool's validator records (status and slashing), op pools, proposals, the attestations
of the epoch before from on-chain inclusion, sync aggregates, finality, and the transaction that
saves state and counters. The validator records are fetched once, outside the timing (the daemon
fetches them for its status gauges and hands them over).

Printed: wall time and the monitor process's CPU time (``time.process_time``, so the simulator's
work answering requests is not counted) per run, medians, and the monitor process's peak RSS
(``getrusage``). Figures only, never asserted: these machines are shared and noisy.

    .venv/bin/python bench/bench_monitor_epoch.py [--validators 2000000] [--pool 100000]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from stakepool.beacon.client import BeaconClient
from stakepool.chain.bus import EventBus
from stakepool.chain.types import Epoch
from stakepool.monitor.keeper import MonitorKeeper, chain_key
from stakepool.monitor.service import MonitorService
from stakepool.publish.metrics import Metrics
from stakepool.service.logs import configure_logging
from stakepool.store.database import Database

sys.path.insert(0, str(Path(__file__).parent))
import simnet


async def _bench(network: simnet.Network, pool: list[int], repeats: int) -> list[str]:
    spe = network.slots_per_epoch
    head_slot = network.head_slot
    epoch = Epoch(head_slot // spe - 1)  # the last closed epoch
    out: list[str] = []
    async with BeaconClient([network.url], timeout=120, bulk_timeout=600) as client:
        spec, head = await simnet.chain_at_head(client, network)
        t0 = time.perf_counter()
        before = (await client.state.validator_columns((epoch * spe) - 1, pool)).data
        records = (await client.state.validator_columns((epoch + 1) * spe - 1, pool)).data
        out.append(
            f"pool validator records fetched in {time.perf_counter() - t0:.2f} s "
            f"({len(records):,} records, twice; outside the timing)"
        )
        rss_before = simnet.rss_mb()
        walls: list[float] = []
        cpus: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(repeats):
                db = Database.open(Path(tmp) / f"run{run}.sqlite")
                metrics = Metrics(per_validator_limit=64)
                metrics.set_pool((v, f"vc-{v % 4}") for v in pool)
                monitor = MonitorService(
                    client,
                    spec,
                    pool,
                    metrics.duties,
                    EventBus(),
                    keeper=MonitorKeeper(db, chain_key(spec)),
                )
                await monitor.on_epoch_closed(Epoch(epoch - 1), head, before)  # warm-up epoch
                w0, c0 = time.perf_counter(), time.process_time()
                digest = await monitor.on_epoch_closed(epoch, head, records)
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
                db.close()
                assert not digest.failed, digest.failed
                assert digest.attestations is not None
                if run == 0:
                    a = digest.attestations.summary
                    out.append(
                        f"epoch {epoch}: {a.duties:,} attestation duties of epoch {epoch - 1} "
                        f"evaluated ({a.included:,} included), {len(digest.proposals)} proposals"
                        f", sync {digest.sync.signed if digest.sync else 0:,} signatures"
                    )
    out.append(
        f"on_epoch_closed wall  median {statistics.median(walls):6.2f} s   "
        f"min {min(walls):6.2f}   max {max(walls):6.2f}   ({repeats} runs)"
    )
    out.append(
        f"on_epoch_closed CPU   median {statistics.median(cpus):6.2f} s   "
        f"min {min(cpus):6.2f}   max {max(cpus):6.2f}   (monitor process only)"
    )
    out.append(
        f"monitor process peak RSS: {simnet.rss_mb():.0f} MB "
        f"(was {rss_before:.0f} MB with the records fetched, before any monitoring)"
    )
    return out


def main() -> None:
    parser, args = simnet.arguments(__doc__, repeats=3, epochs=4)
    if args.epochs < 3:
        parser.error("at least 3 epochs: the warm-up epoch needs the one before it")
    configure_logging("warning", "console", sys.stderr)  # events are not what is measured
    simnet.run(args, _bench)


if __name__ == "__main__":
    main()
