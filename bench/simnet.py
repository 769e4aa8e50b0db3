"""The harness the epoch benchmarks share: a big simulated network in a child process.

The network (``stakepool.sim``, mainnet preset by default) is built, stepped and served from a
child process started with ``spawn``, so its memory and CPU are not the measured process's. The
parent gets what it needs to talk to it (`Network`), runs the benchmark's coroutine against it
with a pool spread over the registry, prints the lines it returns, then stops the child and prints
the child's peak RSS.

A benchmark script uses it as::

    sys.path.insert(0, str(Path(__file__).parent))
    import simnet

    def main() -> None:
        parser, args = simnet.arguments(__doc__, repeats=3)
        simnet.run(args, _bench)

It is a module beside the scripts, not a package: the scripts run as ``python bench/bench_x.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from stakepool.beacon.client import BeaconClient
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Root, Slot
from stakepool.monitor.head import HeadView


@dataclass(frozen=True)
class Network:
    """The served network, as the child reports it once it is ready."""

    url: str
    build_s: float
    step_s: float
    head_slot: int
    slots_per_epoch: int


Bench = Callable[[Network, list[int], int], Coroutine[Any, Any, list[str]]]
"""A benchmark: (network, pool indices, repeats) → the lines to print."""


def rss_mb() -> float:
    """This process's peak RSS so far, in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(conn: Connection, validators: int, preset: str, epochs: int) -> None:
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
                Network(
                    url=server.url,
                    build_s=built,
                    step_s=stepped,
                    head_slot=chain.head_slot,
                    slots_per_epoch=chain.params.slots_per_epoch,
                )
            )
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send(rss_mb())

    asyncio.run(main())


def arguments(
    doc: str | None,
    *,
    repeats: int,
    epochs: int = 3,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse the options every epoch benchmark takes (plus ``extra``'s); the parser is returned
    for further checks."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if extra is not None:
        extra(parser)
    parser.add_argument("--validators", type=int, default=2_000_000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--preset", default="mainnet")
    parser.add_argument(
        "--epochs", type=int, default=epochs, help="epochs to step before measuring"
    )
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()
    if args.pool > args.validators:
        parser.error("the pool cannot be larger than the network")
    return parser, args


async def chain_at_head(client: BeaconClient, network: Network) -> tuple[ChainSpec, HeadView]:
    """The served network's spec and head, as the daemon would see them."""
    genesis = await client.check_genesis(None)
    spec = ChainSpec.from_api(
        await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
    )
    checkpoints = (await client.state.finality_checkpoints("head")).data
    head = HeadView(
        Slot(network.head_slot),
        Root("0x" + "00" * 32),
        Epoch(network.head_slot // network.slots_per_epoch),
        checkpoints.current_justified.epoch,
        checkpoints.finalized.epoch,
    )
    return spec, head


def spread_pool(validators: int, size: int) -> list[int]:
    """``size`` indices spread evenly over the registry, as a real pool's indices are."""
    stride = validators // size
    return [i * stride for i in range(size)]


def run(args: argparse.Namespace, bench: Bench) -> None:
    """Start the network, run ``bench`` against it, print its lines, stop the network."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=serve, args=(child, args.validators, args.preset, args.epochs), daemon=True
    )
    proc.start()
    network: Network = parent.recv()
    pool = spread_pool(args.validators, args.pool)
    print(
        f"network {args.validators:,} validators ({args.preset}), pool {len(pool):,}; "
        f"sim built in {network.build_s:.2f} s, stepped {args.epochs} epochs in "
        f"{network.step_s:.2f} s (head slot {network.head_slot})"
    )
    try:
        for line in asyncio.run(bench(network, pool, args.repeats)):
            print(line, flush=True)
    finally:
        parent.send("stop")
        sim_peak_rss_mb: float = parent.recv()
        proc.join(timeout=30)
    print(f"simulator process peak RSS: {sim_peak_rss_mb:.0f} MB")
