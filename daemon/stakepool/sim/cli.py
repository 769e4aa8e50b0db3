"""Adapter from ``stakepool sim``'s argparse namespace to ``run_sim``."""

from __future__ import annotations

import argparse

from stakepool.sim.main import SimOptions, run_sim


def options_from_args(args: argparse.Namespace) -> SimOptions:
    return SimOptions(
        port=int(args.port),
        validators=int(args.validators),
        slot_seconds=None if args.slot_seconds is None else float(args.slot_seconds),
        preset=str(args.preset),
        seed=int(args.seed),
        offline=tuple((int(lo), int(hi)) for lo, hi in args.offline),
        keymanager_port=getattr(args, "keymanager_port", None),
        keymanager_token_file=getattr(args, "keymanager_token_file", None),
        keymanager_keys=tuple(
            (int(lo), int(hi)) for lo, hi in getattr(args, "keymanager_keys", [])
        ),
    )


async def run_sim_command(args: argparse.Namespace) -> int:
    return await run_sim(options_from_args(args))
