"""Counting an epoch's attestations worked out away from the loop and applied in one step gives
exactly what counting outcome by outcome gives: the same tallies (per validator or per group),
inclusion delays, streak gauges, tracker state, events and digest, epoch after epoch."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.chain.types import CommitteeIndex, Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestation_count import apply_count, plan_count
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.digest import attestation_digest
from stakepool.monitor.streaks import MissedStreaks
from stakepool.monitor.tallies import DutyTallies
from stakepool.monitor.tally_keys import TallyKeys
from stakepool.monitor.verdicts import AttestationFlag, AttestationVerdict

SPE = 8


def _outcome(v: int, epoch: int, fate: tuple[int | None, bool, bool, bool]) -> AttestationOutcome:
    delay, head, target, source = fate
    slot = epoch * SPE + v % SPE
    return AttestationOutcome(
        validator_index=ValidatorIndex(v),
        epoch=Epoch(epoch),
        slot=Slot(slot),
        committee_index=CommitteeIndex(v % 3),
        inclusion_slot=None if delay is None else Slot(slot + delay),
        correct_source=source,
        correct_target=target,
        correct_head=head,
        timely_source=source,
        timely_target=target,
        timely_head=head,
    )


def _one_by_one(
    epoch: int, outcomes: list[AttestationOutcome], tracker: MissedStreaks, tallies: DutyTallies
) -> list[object]:
    """The per-outcome path the part used before (observe, record, set the gauge)."""
    events: list[object] = list(tracker.observe(epoch, outcomes))
    for o in outcomes:
        if not o.included:
            tallies.record_attestation(o.validator_index, AttestationVerdict.MISSED)
        else:
            flags = [
                flag
                for flag, ok in (
                    (AttestationFlag.HEAD, o.timely_head),
                    (AttestationFlag.TARGET, o.timely_target),
                    (AttestationFlag.SOURCE, o.timely_source),
                )
                if not ok
            ]
            tallies.record_attestation(
                o.validator_index,
                AttestationVerdict.INCLUDED,
                inclusion_delay=o.inclusion_delay,
                missed_flags=flags,
            )
        tallies.set_missed_attestation_streak(o.validator_index, tracker.streak(o.validator_index))
    return events


fates = st.tuples(
    st.one_of(st.none(), st.integers(1, 40)), st.booleans(), st.booleans(), st.booleans()
)
epochs = st.lists(
    st.lists(st.tuples(st.integers(0, 11), fates), max_size=24), min_size=1, max_size=5
)


@settings(max_examples=300, deadline=None)
@given(
    epochs,
    st.integers(1, 4),
    st.integers(0, 12),
    st.lists(st.sampled_from([None, "a", "b"]), min_size=10, max_size=10),
    st.booleans(),
)
def test_planned_and_applied_equals_one_by_one(
    history: list[list[tuple[int, tuple[int | None, bool, bool, bool]]]],
    threshold: int,
    limit: int,
    labels: list[str | None],
    repeat_epoch: bool,
) -> None:
    # Validators 0-9 are the pool (10 and 11 are not: never counted); above `limit` per group.
    keys = TallyKeys.for_pool(list(enumerate(labels)), limit)
    one, bulk = DutyTallies(), DutyTallies()
    one.configure(keys)
    bulk.configure(keys)
    t_one, t_bulk = MissedStreaks(threshold), MissedStreaks(threshold)
    epoch_numbers = list(range(3, 3 + len(history)))
    if repeat_epoch:
        epoch_numbers[-1] = epoch_numbers[0]  # a redo counts nothing more
    for epoch, fed in zip(epoch_numbers, history, strict=True):
        outcomes = [_outcome(v, epoch, fate) for v, fate in fed]
        before = copy.deepcopy(bulk.counts)
        count = plan_count(epoch, outcomes, t_bulk, bulk)
        assert bulk.counts == before  # worked out without changing anything
        apply_count(count, t_bulk, bulk)
        events = _one_by_one(epoch, outcomes, t_one, one)
        assert count.events == events
        assert count.digest == attestation_digest(Epoch(epoch), outcomes)
        assert bulk.counts == one.counts
        assert bulk.inclusion_delay.series == one.inclusion_delay.series
        assert bulk.streaks == one.streaks
        assert t_bulk.state == t_one.state
        assert bulk.snapshot() == one.snapshot()
