"""Delegator statements: periods, UTC months, and one delegator's figures over an epoch range. Pure.

A statement covers a contiguous range of settled epochs ``[first, last]`` (a period of
``[ledger] statement_period_epochs`` epochs aligned on epoch 0, or the epochs that start in one UTC
month) and says, for one delegator, in Gwei:

* ``opening_balance`` = principal in effect at ``first − 1`` + what it accrued up to ``first − 1``;
* ``principal_in`` / ``principal_out``: the weight changes that take effect inside the range;
* ``net_credit`` = floor(accrued after ``last``) − floor(accrued after ``first − 1``): exactly the
  sum of the delegator's per-epoch ledger rows (``GET /delegators/{id}/epochs``) over the range;
* ``el_credit``, ``fee``, ``losses``: the delegator's pro-rata share (its weight over the epoch's
  total weight) of the pool's EL reward, of the operator fee, and of the losses it bore —
  ``max(0, −R_CL)`` plus the operator bond's movement (``operator_first``: negative when the bond
  covered a loss, positive when later gains made the bond whole). Each is read through range-local
  accumulators exactly like the ledger's own accumulator (floored when read), so it is within
  1 Gwei of its exact rational share;
* ``cl_credit`` = ``net_credit − el_credit + fee + losses``: the row adds up exactly, so the CL
  column takes the few Gwei of rounding; it is the delegator's share of the positive CL results;
* ``closing_balance = opening_balance + principal_in − principal_out + net_credit``.

Per epoch with weight: ``D = R − fee − bond_delta = max(R_CL, 0) + EL − fee − losses``, which is
why the columns add up. ``el_credit`` is ``None`` ("unknown") when any epoch of the range had no EL
figure (no execution client configured): never a 0 that would be read as "no EL income". Payouts
are the operator's own records and are not part of a statement (the balance is the delegator's
claim before payouts).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stakepool.chain.clock import ChainClock
from stakepool.ledger.accumulator import SCALE, accrued_scaled, to_gwei
from stakepool.ledger.delegations import weight_at

Status = str
"""``"provisional"`` or ``"final"``."""

MONTH_FORMAT = "%Y-%m"


class StatementError(ValueError):
    """A statement request that cannot be answered as asked (bad period or month)."""


# --- periods and months ----------------------------------------------------------------------------


def period_of(epoch: int, period_epochs: int) -> int:
    return epoch // period_epochs


def period_bounds(period: int, period_epochs: int) -> tuple[int, int]:
    """``(first, last)`` epoch of ``period`` (inclusive)."""
    if period < 0 or period_epochs < 1:
        raise StatementError(f"period {period} of {period_epochs} epochs does not exist")
    first = period * period_epochs
    return first, first + period_epochs - 1


def parse_month(text: str) -> tuple[int, int]:
    """``"YYYY-MM"`` → ``(year, month)``; a clear ``StatementError`` otherwise."""
    try:
        parsed = datetime.strptime(text, MONTH_FORMAT)  # noqa: DTZ007 - a calendar month, no time
    except ValueError:
        raise StatementError(f"month must be YYYY-MM, got {text[:20]!r}") from None
    if len(text) != 7:
        raise StatementError(f"month must be YYYY-MM, got {text[:20]!r}")
    return parsed.year, parsed.month


def month_epochs(year: int, month: int, clock: ChainClock) -> tuple[int, int] | None:
    """The epochs whose start lies in that UTC month: ``(first, last)``, ``None`` if none does
    (a month before genesis)."""
    start_ms = int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    end_ms = int(datetime(nxt[0], nxt[1], 1, tzinfo=UTC).timestamp()) * 1000
    span = clock.epoch_duration_ms
    # First epoch starting at or after start_ms; last epoch starting before end_ms.
    first = max(0, -((clock.genesis_ms - start_ms) // span))
    last = (end_ms - 1 - clock.genesis_ms) // span
    if last < first:
        return None
    return first, last


def utc_time(clock: ChainClock, epoch: int) -> str:
    """Start of ``epoch`` as an ISO 8601 UTC time (millisecond precision, ``Z``)."""
    moment = datetime.fromtimestamp(clock.epoch_start_ms(epoch) / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the pool's rows of a range ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolRow:
    """What a statement needs of one settled epoch (a ``ledger_epochs`` row)."""

    epoch: int
    status: Status
    total_weight_gwei: int
    reward_cl_gwei: int
    reward_el_gwei: int | None
    reward_gwei: int
    fee_gwei: int
    bond_delta_gwei: int
    unassigned_gwei: int
    distributed_gwei: int

    @property
    def loss_gwei(self) -> int:
        """What the delegators bore this epoch besides the fee (see the module docstring)."""
        return max(0, -self.reward_cl_gwei) + self.bond_delta_gwei


@dataclass(frozen=True, slots=True)
class RangeFigures:
    """The range's component accumulators, computed once and shared by every delegator."""

    first_epoch: int
    last_epoch: int
    status: Status
    el_known: bool
    acc_el: dict[int, int]
    acc_fee: dict[int, int]
    acc_loss: dict[int, int]

    def lookup(self, acc: dict[int, int]) -> Callable[[int], int]:
        def after(epoch: int) -> int:
            if epoch < self.first_epoch:
                return 0
            return acc[min(epoch, self.last_epoch)]

        return after


def range_figures(rows: Sequence[PoolRow]) -> RangeFigures:
    """``rows``: the settled epochs of the range, ascending and contiguous (at least one)."""
    if not rows:
        raise StatementError("a statement needs at least one settled epoch")
    for a, b in itertools.pairwise(rows):
        if b.epoch != a.epoch + 1:
            raise StatementError(f"epochs {a.epoch}..{b.epoch}: a statement range has no gaps")
    el = fee = loss = 0
    acc_el: dict[int, int] = {}
    acc_fee: dict[int, int] = {}
    acc_loss: dict[int, int] = {}
    for row in rows:
        weight = row.total_weight_gwei
        if weight > 0:
            # Floor, like the ledger's accumulator: never credit more than the exact share.
            el += (row.reward_el_gwei or 0) * SCALE // weight
            fee += row.fee_gwei * SCALE // weight
            loss += row.loss_gwei * SCALE // weight
        acc_el[row.epoch], acc_fee[row.epoch], acc_loss[row.epoch] = el, fee, loss
    final = all(r.status == "final" for r in rows)
    return RangeFigures(
        first_epoch=rows[0].epoch,
        last_epoch=rows[-1].epoch,
        status="final" if final else "provisional",
        el_known=all(r.reward_el_gwei is not None for r in rows),
        acc_el=acc_el,
        acc_fee=acc_fee,
        acc_loss=acc_loss,
    )


# --- one delegator's statement ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    delegator: str
    first_epoch: int
    last_epoch: int
    status: Status
    opening_balance_gwei: int
    principal_in_gwei: int
    principal_out_gwei: int
    cl_credit_gwei: int
    el_credit_gwei: int | None
    """``None``: unknown (no EL figure for some epoch of the range)."""
    fee_gwei: int
    losses_gwei: int
    net_credit_gwei: int
    closing_balance_gwei: int


def takes_part(schedule: Sequence[tuple[int, int]], first: int, last: int) -> bool:
    """A delegator has a statement for ``[first, last]`` when it held weight in it or its
    principal changed in it (joining, topping up, leaving)."""
    if weight_at(schedule, first) > 0:
        return True
    return any(first <= epoch <= last for epoch, _ in schedule)


def principal_moves(schedule: Sequence[tuple[int, int]], first: int, last: int) -> tuple[int, int]:
    """``(in, out)``: Σ of the increases and of the decreases taking effect in ``[first, last]``."""
    moved_in = moved_out = 0
    weight = weight_at(schedule, first - 1)
    for epoch, value in schedule:
        if first <= epoch <= last:
            if value > weight:
                moved_in += value - weight
            else:
                moved_out += weight - value
        if epoch <= last:
            weight = value
    return moved_in, moved_out


def statement(
    delegator: str,
    schedule: Sequence[tuple[int, int]],
    figures: RangeFigures,
    acc_after: Callable[[int], int],
) -> Statement:
    """``schedule``: the delegator's weight change points; ``acc_after``: the ledger's reward
    accumulator after an epoch (0 before the first settled epoch)."""
    first, last = figures.first_epoch, figures.last_epoch
    start = schedule[0][0] if schedule else first
    before = to_gwei(accrued_scaled(schedule, acc_after, start, first - 1)) if schedule else 0
    after = to_gwei(accrued_scaled(schedule, acc_after, start, last)) if schedule else 0
    net = after - before

    def share(acc: dict[int, int]) -> int:
        return to_gwei(accrued_scaled(schedule, figures.lookup(acc), first, last))

    el, fee, losses = share(figures.acc_el), share(figures.acc_fee), share(figures.acc_loss)
    moved_in, moved_out = principal_moves(schedule, first, last)
    opening = weight_at(schedule, first - 1) + before
    return Statement(
        delegator=delegator,
        first_epoch=first,
        last_epoch=last,
        status=figures.status,
        opening_balance_gwei=opening,
        principal_in_gwei=moved_in,
        principal_out_gwei=moved_out,
        cl_credit_gwei=net - el + fee + losses,
        el_credit_gwei=el if figures.el_known else None,
        fee_gwei=fee,
        losses_gwei=losses,
        net_credit_gwei=net,
        closing_balance_gwei=opening + moved_in - moved_out + net,
    )


@dataclass(frozen=True, slots=True)
class PoolPeriod:
    """The pool's side of a range: ``reward = fee + bond_delta + unassigned + credited + dust``."""

    reward_gwei: int
    fee_gwei: int
    bond_delta_gwei: int
    unassigned_gwei: int
    distributed_gwei: int
    credited_gwei: int
    """Σ of the delegators' net credits over the range."""

    @property
    def dust_gwei(self) -> int:
        return self.distributed_gwei - self.credited_gwei


def pool_period(rows: Sequence[PoolRow], statements: Sequence[Statement]) -> PoolPeriod:
    return PoolPeriod(
        reward_gwei=sum(r.reward_gwei for r in rows),
        fee_gwei=sum(r.fee_gwei for r in rows),
        bond_delta_gwei=sum(r.bond_delta_gwei for r in rows),
        unassigned_gwei=sum(r.unassigned_gwei for r in rows),
        distributed_gwei=sum(r.distributed_gwei for r in rows),
        credited_gwei=sum(s.net_credit_gwei for s in statements),
    )
