"""Who does what when: committees, proposers and sync committees, seeded and deterministic.

Not the spec's swap-or-not shuffle (the simulator has no RANDAO), but the same shapes: a per-epoch
permutation of the active set cut into ``committees_per_slot × SLOTS_PER_EPOCH`` committees, proposers
drawn in proportion to effective balance, and sync seats drawn with replacement in proportion to
effective balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stakepool.sim.params import SimParams
from stakepool.sim.rewards import I64, U64, is_active

_COMMITTEES, _PROPOSERS, _SYNC = 1, 2, 3


def _rng(seed: int, kind: int, n: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, kind, n])


def committees_per_slot(p: SimParams, active_count: int) -> int:
    return max(
        1,
        min(
            p.max_committees_per_slot, active_count // p.slots_per_epoch // p.target_committee_size
        ),
    )


@dataclass(slots=True)
class EpochCommittees:
    epoch: int
    per_slot: int
    shuffled: npt.NDArray[np.int64]
    bounds: npt.NDArray[np.int64]
    """Committee k (= slot_in_epoch·per_slot + index) is ``shuffled[bounds[k]:bounds[k+1]]``."""
    registry_size: int
    _position: npt.NDArray[np.int64] | None = field(default=None, repr=False)

    def committee(self, slot_in_epoch: int, index: int) -> npt.NDArray[np.int64]:
        k = slot_in_epoch * self.per_slot + index
        return self.shuffled[self.bounds[k] : self.bounds[k + 1]]

    def slot_committees(self, slot_in_epoch: int) -> list[npt.NDArray[np.int64]]:
        return [self.committee(slot_in_epoch, i) for i in range(self.per_slot)]

    def slot_members(self, slot_in_epoch: int) -> npt.NDArray[np.int64]:
        k = slot_in_epoch * self.per_slot
        return self.shuffled[self.bounds[k] : self.bounds[k + self.per_slot]]

    @property
    def position(self) -> npt.NDArray[np.int64]:
        """Shuffled position of every registry index (−1 when not active this epoch)."""
        if self._position is None:
            pos = np.full(self.registry_size, -1, dtype=np.int64)
            pos[self.shuffled] = np.arange(len(self.shuffled), dtype=np.int64)
            self._position = pos
        return self._position

    def duty(self, validator: int) -> tuple[int, int, int, int] | None:
        """(slot_in_epoch, committee index, position in committee, committee length)."""
        pos = int(self.position[validator])
        if pos < 0:
            return None
        k = int(np.searchsorted(self.bounds, pos, side="right")) - 1
        return (
            k // self.per_slot,
            k % self.per_slot,
            pos - int(self.bounds[k]),
            int(self.bounds[k + 1] - self.bounds[k]),
        )

    def duties(self, validators: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
        """Vectorised ``duty``: arrays (valid mask as 0/1, slot_in_epoch, index, pos, length)."""
        pos = self.position[validators]
        valid = pos >= 0
        k = np.searchsorted(self.bounds, np.where(valid, pos, 0), side="right") - 1
        start = self.bounds[k]
        length = self.bounds[k + 1] - start
        return (
            valid.astype(np.int64),
            k // self.per_slot,
            k % self.per_slot,
            pos - start,
            length,
        )


def compute_committees(
    p: SimParams, seed: int, epoch: int, activation_epoch: U64, exit_epoch: U64
) -> EpochCommittees:
    active = np.flatnonzero(is_active(activation_epoch, exit_epoch, epoch)).astype(np.int64)
    shuffled = active[_rng(seed, _COMMITTEES, epoch).permutation(len(active))]
    per_slot = committees_per_slot(p, len(active))
    count = per_slot * p.slots_per_epoch
    bounds = (len(active) * np.arange(count + 1, dtype=np.int64)) // count
    return EpochCommittees(epoch, per_slot, shuffled, bounds, len(activation_epoch))


def _weighted_draw(
    rng: np.random.Generator, candidates: I64, weights: I64, k: int
) -> npt.NDArray[np.int64]:
    cum = np.cumsum(weights[candidates])
    total = int(cum[-1])
    draws = rng.integers(0, total, size=k, dtype=np.int64)
    return candidates[np.searchsorted(cum, draws, side="right")]


def compute_proposers(
    p: SimParams,
    seed: int,
    epoch: int,
    *,
    activation_epoch: U64,
    exit_epoch: U64,
    effective_balance: I64,
) -> npt.NDArray[np.int64]:
    """One proposer per slot of ``epoch``, in proportion to effective balance."""
    active = np.flatnonzero(is_active(activation_epoch, exit_epoch, epoch)).astype(np.int64)
    return _weighted_draw(
        _rng(seed, _PROPOSERS, epoch), active, effective_balance, p.slots_per_epoch
    )


def compute_sync_committee(
    p: SimParams,
    seed: int,
    period: int,
    *,
    activation_epoch: U64,
    exit_epoch: U64,
    effective_balance: I64,
) -> npt.NDArray[np.int64]:
    """SYNC_COMMITTEE_SIZE seats; duplicates allowed and paid per seat."""
    epoch = period * p.epochs_per_sync_committee_period
    active = np.flatnonzero(is_active(activation_epoch, exit_epoch, epoch)).astype(np.int64)
    return _weighted_draw(
        _rng(seed, _SYNC, period), active, effective_balance, p.sync_committee_size
    )
