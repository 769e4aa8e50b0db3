"""``stakepool demo``: the daemon's own composition root with the simulator plugged in as its
beacon node, in one process, and the console view subscribed to the event bus."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

from stakepool.config import Settings, parse_validator_ref
from stakepool.publish.console import ConsoleView
from stakepool.service.logs import configure_logging
from stakepool.service.root import Listener, run_daemon
from stakepool.service.terminal import live_view, wants_live_view


def _drop_monitor_events(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if "event_id" in event_dict:  # a monitor event (the sink's log line)
        raise structlog.DropEvent
    return event_dict


DEMO_DELEGATIONS = """\
# The demo pool's delegators: principal in Gwei, from an epoch, optionally until one (exclusive).
[[delegation]]
delegator = "alice"
amount_gwei = 96_000_000_000
from_epoch = 0

[[delegation]]
delegator = "bob"
amount_gwei = 64_000_000_000
from_epoch = 0

[[delegation]]
delegator = "carol"
amount_gwei = 32_000_000_000
from_epoch = 0
to_epoch = 5

[[delegation]]
delegator = "dave"
amount_gwei = 48_000_000_000
from_epoch = 3

[[delegation]]
delegator = "erin"
amount_gwei = 16_000_000_000
from_epoch = 0
"""
DEMO_FEE_BPS = 1000


async def run_demo(
    settings: Settings,
    *,
    epochs: int | None,
    slot_seconds: float,
    validators: int,
    seed: int,
) -> int:
    """The simulator and the daemon in one process, with a console view: the live screen on a
    terminal, plain lines otherwise (a head line a slot only at ``[log] level = "debug"``)."""
    if wants_live_view(settings):
        with live_view(settings) as view:
            _no_monitor_event_lines()
            return await _with_delegations(
                settings,
                view.subscribe,
                epochs=epochs,
                slot_seconds=slot_seconds,
                validators=validators,
                seed=seed,
            )
    # The console view goes to stdout; the daemon's own log goes to stderr and, unless debugging,
    # only says what goes wrong: the view already tells the rest.
    configure_logging(
        "debug" if settings.log.level == "debug" else "warning",
        "json" if settings.log.format == "json" else "console",
        sys.stderr,
        secrets=settings.secrets(),
    )
    _no_monitor_event_lines()
    console = ConsoleView(sys.stdout, show_heads=settings.log.level == "debug")
    return await _with_delegations(
        settings,
        console.subscribe,
        epochs=epochs,
        slot_seconds=slot_seconds,
        validators=validators,
        seed=seed,
    )


def _no_monitor_event_lines() -> None:
    # The console view shows every monitor event already: their log lines on the same terminal
    # would tell each one twice.
    processors = structlog.get_config()["processors"]
    structlog.configure(processors=[_drop_monitor_events, *processors])


async def _with_delegations(
    settings: Settings,
    listener: Listener,
    *,
    epochs: int | None,
    slot_seconds: float,
    validators: int,
    seed: int,
) -> int:
    with tempfile.TemporaryDirectory(prefix="stakepool-demo-") as tmp:
        delegations = settings.pool.delegations_file
        if delegations is None:  # the demo's own delegators, unless the operator gave a file
            delegations = Path(tmp) / "delegations.toml"
            delegations.write_text(DEMO_DELEGATIONS, encoding="utf-8")
        return await _run(
            settings,
            delegations,
            listener,
            epochs=epochs,
            slot_seconds=slot_seconds,
            validators=validators,
            seed=seed,
        )


async def _run(
    settings: Settings,
    delegations: Path,
    listener: Listener,
    *,
    epochs: int | None,
    slot_seconds: float,
    validators: int,
    seed: int,
) -> int:
    from stakepool.sim.demo import demo_chain_server  # noqa: PLC0415 - numpy only when needed

    async with demo_chain_server(
        validators=validators, slot_seconds=slot_seconds, seed=seed
    ) as demo:
        demo_settings = settings.model_copy(
            update={
                "beacon": settings.beacon.model_copy(update={"urls": [demo.url]}),
                "pool": settings.pool.model_copy(
                    update={
                        "validators": [parse_validator_ref(i) for i in demo.pool],
                        "delegations_file": delegations,
                        # Written whole before the start (or the operator's own): no wait.
                        "delegations_stable_seconds": 0.0,
                        "fee_bps": settings.pool.fee_bps or DEMO_FEE_BPS,
                    }
                ),
                # A fresh simulated chain each time: nothing of it is worth keeping.
                "ledger": settings.ledger.model_copy(update={"database": ":memory:"}),
            }
        )

        def header(url: str) -> None:
            print(f"{demo.describe()}; metrics at {url}/metrics", flush=True)

        # The demo must run on any machine: if the configured port (9464) is taken, use another.
        return await run_daemon(
            demo_settings,
            listeners=[listener],
            max_epochs=epochs,
            configure_logs=False,
            on_listening=header,
            http_fallback=True,
        )
