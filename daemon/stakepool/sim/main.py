"""Entry points: ``run_sim`` serves a simulated node until interrupted (``stakepool sim``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
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
    keymanager_port: int | None = None
    """Also serve a simulated validator client's Keymanager API on this port (0: any free one)."""
    keymanager_token_file: Path | None = None
    """Its bearer token; a fresh one is written there if the file does not exist."""
    keymanager_keys: tuple[tuple[int, int], ...] = ()
    """Inclusive index ranges whose keys it holds at the start."""

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
    keymanager = None
    if options.keymanager_port is not None:
        keymanager = SimKeymanager(
            keymanager_token(options.keymanager_token_file),
            local=(i for lo, hi in options.keymanager_keys for i in range(lo, hi + 1)),
            host=options.host,
            port=options.keymanager_port,
        )
        await keymanager.start()
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
    if keymanager is not None:
        print(f"stakepool sim: keymanager API on {keymanager.url}", file=sys.stderr, flush=True)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if keymanager is not None:
            await keymanager.stop()
        await server.stop()
    return 0


def keymanager_token(path: Path | None) -> str:
    """The token in ``path``, or a fresh 256-bit one (written there, owner-only, like a validator
    client does when its token file is missing)."""
    if path is not None and path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(32)
    if path is not None:
        path.touch(mode=0o600)
        path.write_text(token + "\n")
    return token
