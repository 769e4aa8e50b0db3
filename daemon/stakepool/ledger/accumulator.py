"""The reward-per-weight accumulator (F1 / Batog et al.): O(1) per epoch in the number of delegators.

Each epoch adds ``floor(D·SCALE / W)`` to ``acc`` (D: what the delegators share, W: the total weight
fixed at the epoch's start). A delegator holding weight ``w`` over epochs ``a..b`` has accrued
``w·(acc_after(b) − acc_after(a−1))`` in scaled units; amounts are floored to Gwei only when read,
so a delegator with many weight changes is still within 1 Gwei of its exact rational share.

Where the rounding goes (the dust account): ``D·SCALE − W·floor(D·SCALE/W)`` scaled units per epoch
(in ``[0, W)``), plus each delegator's sub-Gwei remainder at read time. In Gwei,
``dust = Σ D − Σ_i read(accrued_i)``.

Reading: ``read(x) = floor((x + NUDGE) / SCALE)`` with ``NUDGE = SCALE / 10^9`` (10^-9 Gwei). The
accumulator's floor under-counts a delegator by less than ``w`` scaled units per epoch (< 10^-16
Gwei for any real weight and history), so without the nudge an exact integer share such as 1 Gwei
for a lone delegator would read 0.999…9 and floor to 0, and the dust could reach ``n``. With it:
every read is within 1 Gwei of the exact rational share; a read exceeds the exact share only by
less than 10^-9 Gwei, so ``dust > −n·10^-9`` hence ``dust ≥ 0`` (for n < 10^9 delegators); every
delegator leaves less than ``1 − 10^-9`` in the dust and the accumulator less than ``W/SCALE``,
hence ``dust < n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

SCALE = 10**36
NUDGE = 10**27
"""10^-9 Gwei in scaled units: far above the accumulator's truncation, far below a Gwei."""


def acc_step(distributed_gwei: int, total_weight_gwei: int) -> tuple[int, int]:
    """``(acc increment, scaled dust)`` for one epoch; ``total_weight_gwei`` must be > 0."""
    scaled = distributed_gwei * SCALE
    increment = scaled // total_weight_gwei  # floor, also for a loss: never over-credit
    return increment, scaled - increment * total_weight_gwei


def accrued_scaled(
    schedule: Sequence[tuple[int, int]],
    acc_after: Callable[[int], int],
    first_epoch: int,
    last_epoch: int,
) -> int:
    """Scaled amount accrued over epochs ``first_epoch..last_epoch`` by a weight ``schedule``
    (change points ``(epoch, weight from then on)``; weight 0 before the first), with
    ``acc_after(k)`` the accumulator after epoch ``k``. O(number of change points)."""
    total = 0
    for i, (start, weight) in enumerate(schedule):
        end = schedule[i + 1][0] - 1 if i + 1 < len(schedule) else last_epoch
        lo, hi = max(start, first_epoch), min(end, last_epoch)
        if weight and hi >= lo:
            total += weight * (acc_after(hi) - acc_after(lo - 1))
    return total


def to_gwei(scaled: int) -> int:
    """A scaled amount read in Gwei (floor after the nudge): the rounding stays in the dust."""
    return (scaled + NUDGE) // SCALE
