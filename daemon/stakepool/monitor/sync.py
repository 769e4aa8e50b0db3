"""Sync-committee participation of the pool's validators (pure).

Seats: a validator may hold several positions in the period's sync committee and is paid (or
penalised) per seat per block. ``seats_from_duties`` (``POST validator/duties/sync``) or
``seats_from_committee`` (``states/{id}/sync_committees``, ``validators[i]`` sits at position
``i``) give ``validator → positions`` for the pool.

Per slot: only a block's ``sync_aggregate.sync_committee_bits`` (a Bitvector[SYNC_COMMITTEE_SIZE])
counts; a slot without a block counts nothing, for or against anyone — the protocol does the
same. The committee that signs the aggregate of a block at slot ``s`` is the one of
``period(epoch(s))``: the caller passes the right seats.

``SyncEpochTally`` adds blocks up over an epoch and gives ``SyncParticipation`` per validator and
for the pool (seat-slots signed / seat-slots expected), and ``low_participation_events`` the
``sync_participation_low`` warnings under a ratio threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.duties import SyncDuty
from stakepool.beacon.models.state import SyncCommittee
from stakepool.chain.bitfields import decode_bitvector
from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.events import SyncParticipationLow

Seats = Mapping[ValidatorIndex, tuple[int, ...]]
"""Pool validator → its sync-committee positions (sorted)."""


def seats_from_duties(duties: Iterable[SyncDuty]) -> dict[ValidatorIndex, tuple[int, ...]]:
    return {
        d.validator_index: tuple(sorted(d.validator_sync_committee_indices))
        for d in duties
        if d.validator_sync_committee_indices
    }


def seats_from_committee(
    committee: SyncCommittee, ours: Iterable[int]
) -> dict[ValidatorIndex, tuple[int, ...]]:
    pool = set(ours)
    out: dict[ValidatorIndex, list[int]] = {}
    for position, v in enumerate(committee.validators):
        if v in pool:
            out.setdefault(v, []).append(position)
    return {v: tuple(p) for v, p in out.items()}


@dataclass(frozen=True, slots=True)
class SyncParticipation:
    signed: int
    """Seat-slots signed."""
    total: int
    """Seat-slots expected (seats × blocks counted)."""

    @property
    def missed(self) -> int:
        return self.total - self.signed

    @property
    def ratio(self) -> float | None:
        """Signed / total; None when nothing was expected (no block, or no seat)."""
        return None if self.total == 0 else self.signed / self.total

    def __add__(self, other: SyncParticipation) -> SyncParticipation:
        return SyncParticipation(self.signed + other.signed, self.total + other.total)


NONE = SyncParticipation(0, 0)


def slot_participation(
    sync_committee_bits: str, seats: Seats, committee_size: int
) -> dict[ValidatorIndex, SyncParticipation]:
    """Seats signed / held per pool validator in one block's sync aggregate."""
    bits = decode_bitvector(sync_committee_bits, committee_size)
    for v, positions in seats.items():
        if any(not 0 <= p < committee_size for p in positions):
            raise ValueError(f"validator {v} has a seat outside a committee of {committee_size}")
    return {
        v: SyncParticipation(sum(1 for p in positions if bits[p]), len(positions))
        for v, positions in seats.items()
    }


@dataclass(frozen=True, slots=True)
class SyncEpochSummary:
    epoch: Epoch
    blocks: int
    """Blocks counted (slots with a block and a sync aggregate)."""
    per_validator: Mapping[ValidatorIndex, SyncParticipation]
    pool: SyncParticipation


class SyncEpochTally:
    """Adds one epoch's blocks up; ``add_block`` is idempotent per slot."""

    def __init__(self, epoch: int, seats: Seats, *, slots_per_epoch: int, committee_size: int):
        self._epoch = Epoch(epoch)
        self._seats = dict(seats)
        self._spe = slots_per_epoch
        self._size = committee_size
        self._by_slot: dict[Slot, dict[ValidatorIndex, SyncParticipation]] = {}

    def add_aggregate(self, slot: int, sync_committee_bits: str | None) -> None:
        """One slot's block; ``None`` bits (a pre-Altair block) count nothing."""
        if slot // self._spe != self._epoch:
            raise ValueError(f"slot {slot} is not in epoch {self._epoch}")
        if sync_committee_bits is None:
            return
        self._by_slot[Slot(slot)] = slot_participation(sync_committee_bits, self._seats, self._size)

    def add_block(self, block: SignedBeaconBlock) -> None:
        aggregate = block.message.body.sync_aggregate
        self.add_aggregate(block.slot, None if aggregate is None else aggregate.sync_committee_bits)

    def summary(self) -> SyncEpochSummary:
        per: dict[ValidatorIndex, SyncParticipation] = dict.fromkeys(self._seats, NONE)
        for counts in self._by_slot.values():
            for v, p in counts.items():
                per[v] = per[v] + p
        pool = sum(per.values(), NONE)
        return SyncEpochSummary(self._epoch, len(self._by_slot), per, pool)


def low_participation_events(
    summary: SyncEpochSummary, threshold: float
) -> list[SyncParticipationLow]:
    """One warning per validator whose ratio is below ``threshold`` (none without blocks)."""
    out: list[SyncParticipationLow] = []
    for v in sorted(summary.per_validator):
        p = summary.per_validator[v]
        if p.ratio is not None and p.ratio < threshold:
            out.append(
                SyncParticipationLow(
                    validator_index=v, epoch=summary.epoch, signed=p.signed, total=p.total
                )
            )
    return out
