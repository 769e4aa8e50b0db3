"""Entry points: ``run_sim`` serves a simulated node until interrupted (``stakepool sim``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
from dataclasses import dataclass, field

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import Offline, SimScenario
from stakepool.sim.server import SimServer


@dataclass(frozen=True, slots=True)
class SimOptions:
    port: int = 5052
    validators: int = 1024
    slot_seconds: float | None = None
    """``None`` keeps the preset's slot duration."""
    preset: str = "minimal"
    seed: int = 1
    offline: tuple[tuple[int, int], ...] = ()
    """Inclusive index ranges that never attest, propose or sign."""
    host: str = "127.0.0.1"
    scenario: SimScenario | None = field(default=None)
    """A full scenario instead of ``offline`` (the two are merged)."""

    def chain_config(self) -> SimConfig:
        base = self.scenario or SimScenario()
        scenario = dataclasses.replace(
            base, offline=(*base.offline, *(Offline(r) for r in self.offline))
        )
        slot_ms = None if self.slot_seconds is None else max(1, round(self.slot_seconds * 1000))
        return SimConfig(
            validators=self.validators,
            preset=self.preset,
            slot_duration_ms=slot_ms,
            seed=self.seed,
            scenario=scenario,
        )


async def run_sim(options: SimOptions, *, ready: asyncio.Event | None = None) -> int:
    """Serve on ``options.host:port`` (loopback by default), advancing with the wall clock."""
    chain = SimChain(options.chain_config())
    server = SimServer(chain, options.host, options.port, auto_advance=True)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    p = chain.params
    print(
        f"stakepool sim: {options.validators} validators, preset {options.preset}, "
        f"{p.slot_duration_ms} ms slots, {p.slots_per_epoch} slots/epoch, seed {options.seed}, "
        f"serving {server.url}",
        file=sys.stderr,
        flush=True,
    )
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await server.stop()
    return 0
