"""The ``stakepool`` command: run | demo | sim | check-config | ledger | verify | duties | assets |
version."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stakepool import __version__
from stakepool.chain.redact import redact_text
from stakepool.cli.assets import run_assets
from stakepool.cli.parser import build_parser
from stakepool.config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _load(config: Path | None) -> Settings | None:
    try:
        return load_settings(config)
    except ConfigError as exc:
        # The settings did not load, so their secrets are unknown: the patterns still mask a URL's
        # credentials in a message that quotes the offending value.
        problems = [redact_text(p) for p in exc.problems]
        if len(problems) == 1:
            print(f"stakepool: configuration error: {problems[0]}", file=sys.stderr)
        else:
            lines = "".join(f"\n  {p}" for p in problems)
            print(f"stakepool: {len(problems)} configuration errors:{lines}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`stakepool ledger export … | head -1`): stop quietly, as any Unix
        # tool does, with nothing lost (an export only reads). Python would try to flush stdout
        # again at exit and print a second error: point stdout at /dev/null first.
        _detach_stdout()
        return 0


def _detach_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test's capture): nothing to flush
        pass


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    command: str = args.command

    if command == "version":
        print(f"stakepool {__version__}")
        return 0

    if command == "assets":
        return run_assets(args)

    if command == "sim":
        from stakepool.sim.cli import run_sim_command  # noqa: PLC0415 - heavy, numpy

        return asyncio.run(run_sim_command(args))

    if command == "verify":
        from stakepool.cli.verify import main as run_verify  # noqa: PLC0415 - aiohttp

        return run_verify(args)

    settings = _load(args.config)
    if settings is None:
        return EXIT_CONFIG

    if command == "check-config":
        effective = settings.model_dump(mode="json")
        effective["pool"]["validators"] = [
            {"id": ref.key, "label": ref.label} for ref in settings.pool.all_validators()
        ]
        print(json.dumps(settings.redactor().value(effective), indent=2))
        return 0

    if command == "ledger" and args.ledger_command == "statement":
        from stakepool.cli.statement import run_statement  # noqa: PLC0415

        return run_statement(args, settings)
    if command == "ledger" and args.ledger_command == "migrate":
        from stakepool.cli.ledger_migrate import run_migrate  # noqa: PLC0415

        return run_migrate(args, settings)
    if command == "ledger":
        from stakepool.cli.ledger_export import run_export  # noqa: PLC0415

        return run_export(args, settings)

    if command == "duties":
        from stakepool.cli.duties import run_duties  # noqa: PLC0415

        return run_duties(args, settings)

    from stakepool.service.demo import run_demo  # noqa: PLC0415
    from stakepool.service.malloc_tuning import tune_malloc  # noqa: PLC0415
    from stakepool.service.root import run_daemon  # noqa: PLC0415 - keep `version` light
    from stakepool.service.terminal import live_view, wants_live_view  # noqa: PLC0415

    tune_malloc()  # before any worker thread allocates

    if command == "demo":
        return asyncio.run(
            run_demo(
                settings,
                epochs=args.epochs,
                slot_seconds=args.slot_seconds,
                validators=args.validators,
                seed=args.seed,
            )
        )
    if wants_live_view(settings):  # a terminal: the live screen, the log's warnings above it
        with live_view(settings) as view:
            return asyncio.run(
                run_daemon(settings, listeners=[view.subscribe], configure_logs=False)
            )
    return asyncio.run(run_daemon(settings))
