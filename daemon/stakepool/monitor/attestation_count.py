"""One evaluated epoch of attestations counted in two halves: worked out, then applied.

At 100,000 validators, counting an epoch's outcomes one by one into the streak tracker and the
tallies took ~0.8 s on the event loop, during which nothing else ran (``/metrics``, the API, the
head). ``plan_count`` does all the per-validator work without touching either (so it may run in a
worker thread while the loop goes on), and ``apply_count`` then writes the result in one short
step on the loop: dictionary updates per key, no per-outcome logic. The result is the one the
per-outcome path (``MissedStreaks.observe``, ``DutyTallies.record_attestation``,
``set_missed_attestation_streak``) gives, which a hypothesis test holds it to. Until the apply,
nothing has changed: the epoch is counted entirely or not at all.

Pure: no I/O, no clock, no loop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.digest import AttestationDigest, attestation_digest
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.streaks import MissedStreaks, StreakState
from stakepool.monitor.tallies import INCLUSION_DELAY_BUCKETS, DutyTallies, Key
from stakepool.monitor.verdicts import AttestationFlag, AttestationVerdict

_MISSED = AttestationVerdict.MISSED.value
_INCLUDED = AttestationVerdict.INCLUDED.value
_HEAD = AttestationFlag.HEAD.value
_TARGET = AttestationFlag.TARGET.value
_SOURCE = AttestationFlag.SOURCE.value


@dataclass(frozen=True, slots=True)
class AttestationCount:
    """What counting one epoch changes, and what it tells."""

    events: list[MonitorEvent]
    streak_states: dict[ValidatorIndex, StreakState]
    """The tracker's new state for the validators that changed."""
    attestations: dict[Key, int]
    """Added to the ``attestations`` family."""
    misses: dict[Key, int]
    """Added to the ``attestation_misses`` family."""
    delays: dict[str, list[int]]
    """Added to each key's inclusion-delay buckets (the last entry: the sum)."""
    streaks: dict[int, int]
    """The tallies' streak gauge per validator, as the tracker has it after the epoch."""
    digest: AttestationDigest


def plan_count(
    epoch: int,
    outcomes: Sequence[AttestationOutcome],
    tracker: MissedStreaks,
    tallies: DutyTallies,
) -> AttestationCount:
    """Reads ``tracker`` and ``tallies`` (their keys), changes neither."""
    events, states = tracker.plan(epoch, outcomes)
    keys = tallies.keys
    attestations: dict[Key, int] = {}
    misses: dict[Key, int] = {}
    delays: dict[str, list[int]] = {}
    streaks: dict[int, int] = {}
    width = len(INCLUSION_DELAY_BUCKETS) + 2
    for o in outcomes:
        v = o.validator_index
        value = keys.value(v)
        if value is None:
            continue
        if not o.included:
            key = (value, _MISSED)
            attestations[key] = attestations.get(key, 0) + 1
        else:
            key = (value, _INCLUDED)
            attestations[key] = attestations.get(key, 0) + 1
            if o.inclusion_delay is not None:
                tally = delays.get(value)
                if tally is None:
                    tally = delays[value] = [0] * width
                tally[bisect_left(INCLUSION_DELAY_BUCKETS, o.inclusion_delay)] += 1
                tally[-1] += o.inclusion_delay
            if not o.timely_head:
                key = (value, _HEAD)
                misses[key] = misses.get(key, 0) + 1
            if not o.timely_target:
                key = (value, _TARGET)
                misses[key] = misses.get(key, 0) + 1
            if not o.timely_source:
                key = (value, _SOURCE)
                misses[key] = misses.get(key, 0) + 1
        state = states.get(v)
        streaks[v] = state.missed if state is not None else tracker.streak(v)
    return AttestationCount(
        events,
        states,
        attestations,
        misses,
        delays,
        streaks,
        attestation_digest(Epoch(epoch), outcomes),
    )


def apply_count(count: AttestationCount, tracker: MissedStreaks, tallies: DutyTallies) -> None:
    """One short step: every change of ``count`` written to ``tracker`` and ``tallies``."""
    tracker.apply(count.streak_states)
    family = tallies.counts["attestations"]
    for key, n in count.attestations.items():
        family[key] = family.get(key, 0) + n
    family = tallies.counts["attestation_misses"]
    for key, n in count.misses.items():
        family[key] = family.get(key, 0) + n
    series = tallies.inclusion_delay.series
    for value, added in count.delays.items():
        tally = series[value]
        for i, n in enumerate(added):
            tally[i] += n
    tallies.streaks.update(count.streaks)
