"""The pool's coming duties and the maintenance windows between them (pure).

A validator client or beacon node restarted while one of the pool's validators must propose misses
a block (the costliest duty to lose), and one restarted while a pool validator sits in the sync
committee loses sync rewards for every slot it is down. Attestations come every epoch for every
validator and cost little to miss once, so they are reported but never make a slot "busy".

What can be known: proposers for the current and the next epoch (the protocol's seed lookahead),
sync committees for the current and the next period. ``known_until`` is the last slot whose
proposer is known; beyond it nothing can be promised, so a window reaching past it is never "free".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Proposal:
    slot: int
    validator_index: int


@dataclass(frozen=True, slots=True)
class SyncSeat:
    """Pool validators in the sync committee of ``period``, which spans ``first_slot..last_slot``."""

    period: int
    first_slot: int
    last_slot: int
    validator_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AttestationSlot:
    slot: int
    validators: int
    """How many pool validators attest at this slot."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Slots ``first_slot..last_slot`` (inclusive) with no proposal and no sync duty of the pool."""

    first_slot: int
    last_slot: int

    @property
    def slots(self) -> int:
        return self.last_slot - self.first_slot + 1


@dataclass(frozen=True, slots=True)
class DutyForecast:
    current_slot: int
    slots_per_epoch: int
    known_until: int
    """The last slot whose proposer is known (inclusive)."""
    proposals: tuple[Proposal, ...]
    """The pool's proposals from ``current_slot`` on, by slot."""
    sync: tuple[SyncSeat, ...]
    """Sync-committee periods (current, next) in which the pool has a seat, by period."""
    attestations: tuple[AttestationSlot, ...]
    """Slots from ``current_slot`` on at which pool validators attest, by slot."""

    @property
    def current_epoch(self) -> int:
        return self.current_slot // self.slots_per_epoch

    def is_busy(self, slot: int) -> bool:
        """A pool proposal or a pool sync-committee seat at ``slot``."""
        return any(p.slot == slot for p in self.proposals) or any(
            s.first_slot <= slot <= s.last_slot for s in self.sync
        )

    def first_busy(self) -> int | None:
        """The first busy slot from ``current_slot`` on (within the known horizon or a known sync
        period), or None."""
        candidates = [p.slot for p in self.proposals]
        candidates += [max(s.first_slot, self.current_slot) for s in self.sync]
        return min(candidates, default=None)

    def busy_within(self, slots: int) -> int | None:
        """The first busy slot among the ``slots`` slots starting with the current one."""
        first = self.first_busy()
        return first if first is not None and first < self.current_slot + slots else None

    def free_for(self, slots: int) -> bool:
        """True when the ``slots`` slots starting with the current one are known and free: no
        proposal, no sync seat. A window past ``known_until`` is not known, hence never free."""
        if slots < 1:
            raise ValueError(f"a window is at least one slot, got {slots}")
        if self.current_slot + slots - 1 > self.known_until:
            return False
        return self.busy_within(slots) is None

    def longest_gap(self) -> Gap | None:
        """The longest run of free slots within ``current_slot..known_until`` (the earliest of
        equals); None when every known slot is busy."""
        best: Gap | None = None
        start: int | None = None
        for slot in range(self.current_slot, self.known_until + 2):
            free = slot <= self.known_until and not self.is_busy(slot)
            if free and start is None:
                start = slot
            elif not free and start is not None:
                gap = Gap(start, slot - 1)
                if best is None or gap.slots > best.slots:
                    best = gap
                start = None
        return best


def forecast(
    *,
    current_slot: int,
    slots_per_epoch: int,
    epochs_per_period: int,
    pool: Iterable[int],
    proposers: Mapping[int, int],
    sync_members: Mapping[int, Iterable[int]],
    attesters: Iterable[tuple[int, int]],
    known_until: int,
) -> DutyForecast:
    """Assemble the forecast from what the node said.

    ``proposers``: slot → proposer index for the known epochs (every validator, pool or not);
    ``sync_members``: period → the pool validators with a seat in it; ``attesters``:
    ``(slot, index)`` attester duties of pool validators. Slots before ``current_slot`` are past.
    """
    members = frozenset(pool)
    period_slots = epochs_per_period * slots_per_epoch
    proposals = tuple(
        Proposal(slot, index)
        for slot, index in sorted(proposers.items())
        if index in members and current_slot <= slot <= known_until
    )
    seats = []
    for period, indices in sorted(sync_members.items()):
        pooled = tuple(sorted(set(indices) & members))
        last = (period + 1) * period_slots - 1
        if pooled and last >= current_slot:
            seats.append(SyncSeat(period, period * period_slots, last, pooled))
    counts: dict[int, int] = {}
    for slot, index in attesters:
        if index in members and slot >= current_slot:
            counts[slot] = counts.get(slot, 0) + 1
    return DutyForecast(
        current_slot=current_slot,
        slots_per_epoch=slots_per_epoch,
        known_until=known_until,
        proposals=proposals,
        sync=tuple(seats),
        attestations=tuple(AttestationSlot(s, n) for s, n in sorted(counts.items())),
    )
