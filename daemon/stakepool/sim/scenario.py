"""Scenario knobs: what goes wrong (or differently) on the simulated chain, and when.

Validator sets are inclusive index ranges ``(low, high)``; epoch spans are inclusive too, and
``None`` means "always".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

IndexRange = tuple[int, int]
EpochSpan = tuple[int, int] | None


def _in_span(span: EpochSpan, epoch: int) -> bool:
    return span is None or span[0] <= epoch <= span[1]


@dataclass(frozen=True, slots=True)
class Offline:
    """Validators that never attest, propose or sign sync messages during ``epochs``."""

    validators: IndexRange
    epochs: EpochSpan = None


@dataclass(frozen=True, slots=True)
class LateVotes:
    """Votes that reach a block ``delay`` slots after their slot (head flag lost when > 1)."""

    validators: IndexRange
    delay: int = 2
    epochs: EpochSpan = None


@dataclass(frozen=True, slots=True)
class WrongVotes:
    """Votes for a wrong head (head flag lost) or a wrong target (target and head lost)."""

    validators: IndexRange
    kind: Literal["head", "target"] = "head"
    epochs: EpochSpan = None


@dataclass(frozen=True, slots=True)
class ScheduledSlashing:
    """Evidence enters the pool (and SSE) at ``announce_slot``; the first block at or after
    ``include_slot`` includes it. An attester slashing may name several validators; a proposer
    slashing names exactly one."""

    kind: Literal["attester", "proposer"]
    validators: tuple[int, ...]
    announce_slot: int
    include_slot: int


@dataclass(frozen=True, slots=True)
class ScheduledExit:
    """A signed voluntary exit seen at ``announce_slot``, included at or after ``include_slot``.

    The simulator does not enforce SHARD_COMMITTEE_PERIOD (validators are active from genesis)."""

    validator: int
    announce_slot: int
    include_slot: int


@dataclass(frozen=True, slots=True)
class ScheduledDeposit:
    """A deposit request carried by the first block at or after ``slot``: a top-up of an existing
    validator, or — ``validator`` at or past the genesis count — the deposit of a brand-new one,
    which joins the registry (with that index) when the deposit queue processes it, then waits in
    the activation queue (``SimScenario.new_validators``)."""

    validator: int
    amount_gwei: int
    slot: int


@dataclass(frozen=True, slots=True)
class ScheduledActivation:
    """Validators whose deposits were processed before genesis but who wait in the activation
    queue: ``pending_queued`` until ``epoch``, active from it (no duty, no reward before). A
    shortcut beside the real path (a ``ScheduledDeposit`` of a new index: the deposit queue and
    the activation queue decide the epochs)."""

    validators: IndexRange
    epoch: int


@dataclass(frozen=True, slots=True)
class SimScenario:
    offline: tuple[Offline, ...] = ()
    late_votes: tuple[LateVotes, ...] = ()
    wrong_votes: tuple[WrongVotes, ...] = ()
    missed_slots: frozenset[int] = frozenset()
    """Slots whose proposer does not publish."""
    orphaned_slots: frozenset[int] = frozenset()
    """Slots whose block is produced, becomes head, then is reorged out by the next slot."""
    slashings: tuple[ScheduledSlashing, ...] = ()
    deposits: tuple[ScheduledDeposit, ...] = ()
    exits: tuple[ScheduledExit, ...] = ()
    finality_stall: EpochSpan = None
    """Epochs (as processed at their end) during which nothing is justified; finality stops and,
    past MIN_EPOCHS_TO_INACTIVITY_PENALTY, the chain leaks. ``None`` = no stall."""
    compounding: tuple[IndexRange, ...] = ()
    """Validators with 0x02 (compounding) credentials."""
    activations: tuple[ScheduledActivation, ...] = ()
    """Validators pending at genesis, active from a later epoch."""
    compounding_balance_gwei: int = 64_500_000_000
    genesis_excess_gwei: int = 50_000_000
    """Each 0x01 validator starts with 32 ETH plus a seeded excess in [0, this) (sweep material)."""
    sync_offline: tuple[Offline, ...] = field(default=())
    """Validators that attest but do not sign sync messages."""
    doppelgangers: tuple[Offline, ...] = field(default=())
    """Validators whose key also runs elsewhere during ``epochs``: they attest (and the node
    reports them live) even where ``offline`` says the pool's own client is silent, e.g. a key
    the operator marked "not yet started"."""

    def _mask(self, ranges: Sequence[IndexRange], n: int) -> npt.NDArray[np.bool_]:
        mask = np.zeros(n, dtype=np.bool_)
        for low, high in ranges:
            mask[max(0, low) : min(n, high + 1)] = True
        return mask

    def offline_mask(self, n: int, epoch: int) -> npt.NDArray[np.bool_]:
        silent = self._mask([o.validators for o in self.offline if _in_span(o.epochs, epoch)], n)
        if not self.doppelgangers:
            return silent
        elsewhere = [d.validators for d in self.doppelgangers if _in_span(d.epochs, epoch)]
        return silent & ~self._mask(elsewhere, n)

    def sync_offline_mask(self, n: int, epoch: int) -> npt.NDArray[np.bool_]:
        ranges = [
            o.validators for o in (*self.offline, *self.sync_offline) if _in_span(o.epochs, epoch)
        ]
        return self._mask(ranges, n)

    def late_delay(self, n: int, epoch: int) -> npt.NDArray[np.int64]:
        """Inclusion delay per validator for ``epoch`` (1 = on time)."""
        delay = np.ones(n, dtype=np.int64)
        for lv in self.late_votes:
            if _in_span(lv.epochs, epoch):
                low, high = lv.validators
                delay[max(0, low) : min(n, high + 1)] = max(1, lv.delay)
        return delay

    def wrong_kind(self, n: int, epoch: int) -> npt.NDArray[np.int8]:
        """0 = correct, 1 = wrong head, 2 = wrong target."""
        kind = np.zeros(n, dtype=np.int8)
        for wv in self.wrong_votes:
            if _in_span(wv.epochs, epoch):
                low, high = wv.validators
                kind[max(0, low) : min(n, high + 1)] = 1 if wv.kind == "head" else 2
        return kind

    def activation_epochs(self, n: int) -> npt.NDArray[np.uint64]:
        """Each validator's activation epoch (0: active from genesis)."""
        epochs = np.zeros(n, dtype=np.uint64)
        for a in self.activations:
            low, high = a.validators
            epochs[max(0, low) : min(n, high + 1)] = a.epoch
        return epochs

    def new_validators(self, genesis: int) -> int:
        """How many brand-new validators the deposits bring (indices ``genesis`` on).

        They join the registry in the order the queue processes their first deposits, which is
        the order of those deposits' slots: indices must follow that order with no gap, as a real
        chain would assign them (``ValueError`` otherwise)."""
        first: dict[int, int] = {}
        for d in sorted(self.deposits, key=lambda d: d.slot):
            if d.validator >= genesis:
                first.setdefault(d.validator, d.slot)
        order = sorted(first, key=lambda v: first[v])
        if order != list(range(genesis, genesis + len(order))):
            raise ValueError(
                f"new validators' deposits must come in index order from {genesis}: {order}"
            )
        return len(order)

    def compounding_mask(self, n: int) -> npt.NDArray[np.bool_]:
        return self._mask(self.compounding, n)

    def stalled(self, epoch: int) -> bool:
        return self.finality_stall is not None and _in_span(self.finality_stall, epoch)
