"""``stakepool duties next [--within SLOTS] [--json]``: is this a safe moment for maintenance?

Exit codes (made for systemd's ``ExecCondition=``, a Helm preStop hook or a CI deploy gate):
0 — the ``SLOTS`` slots starting with the current one hold no proposal and no sync-committee seat
of the pool (or no ``--within`` was asked); 1 — they do, or they reach past what the node can know
yet; 2 — the configuration is invalid; 3 — no beacon node could tell, or a
``[[validator_client]]`` keymanager did not say which keys it holds. Under ``ExecCondition=``
1–254 skip the unit quietly, so "cannot tell" also means "not now".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from stakepool.beacon.errors import BeaconError
from stakepool.config import Settings
from stakepool.monitor.forecast import DutyForecast
from stakepool.publish.api.duties import encode_forecast
from stakepool.service.duties import ValidatorClientUnknown, forecast_from_settings
from stakepool.service.logs import configure_logging

EXIT_FREE = 0
EXIT_BUSY = 1
EXIT_UNKNOWN = 3


def _text(fc: DutyForecast, within: int | None, unknown: tuple[str, ...]) -> str:
    lines = [
        f"current slot {fc.current_slot} (epoch {fc.current_epoch}); "
        f"proposers known until slot {fc.known_until}"
    ]
    if fc.proposals:
        for p in fc.proposals:
            ahead = p.slot - fc.current_slot
            lines.append(f"proposal: validator {p.validator_index} at slot {p.slot} (in {ahead})")
    else:
        lines.append("proposal: none of the pool's validators proposes in the known slots")
    for s in fc.sync:
        who = ", ".join(str(i) for i in s.validator_indices)
        lines.append(
            f"sync committee: period {s.period} (slots {s.first_slot}..{s.last_slot}): {who}"
        )
    if fc.attestations:
        first = fc.attestations[0]
        lines.append(
            f"attestations: next at slot {first.slot} ({first.validators} validators),"
            f" {len(fc.attestations)} slots with pool attestations known"
        )
    gap = fc.longest_gap()
    if gap is None:
        lines.append("longest gap: none (every known slot has a proposal or sync duty)")
    else:
        lines.append(f"longest gap: slots {gap.first_slot}..{gap.last_slot} ({gap.slots} slots)")
    if unknown:
        lines.append(f"not on chain (yet): {', '.join(unknown)}")
    if within is not None:
        last = fc.current_slot + within - 1
        busy = fc.busy_within(within)
        if fc.free_for(within):
            verdict = "free"
        elif busy is not None:
            verdict = f"busy (first duty at slot {busy})"
        else:
            verdict = f"unknown (slot {last} is past slot {fc.known_until}, the last known)"
        lines.append(f"next {within} slots ({fc.current_slot}..{last}): {verdict}")
    return "\n".join(lines)


def run_duties(args: argparse.Namespace, settings: Settings) -> int:
    within: int | None = args.within
    # stdout carries the answer (JSON for a script): the client's own warnings go to stderr.
    configure_logging("warning", settings.log.format, stream=sys.stderr)
    try:
        fc, unknown = asyncio.run(forecast_from_settings(settings))
    except BeaconError as exc:
        print(f"stakepool: no beacon node could tell the coming duties: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    except ValidatorClientUnknown as exc:
        print(f"stakepool: the pool's keys are not all known: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.json:
        print(json.dumps(encode_forecast(fc, within), indent=2))
    else:
        print(_text(fc, within, unknown))
    if within is None or fc.free_for(within):
        return EXIT_FREE
    return EXIT_BUSY
