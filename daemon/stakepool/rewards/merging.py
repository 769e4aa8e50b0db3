"""A merged window: the span ``[a, b]`` settled as one window from ``LAST(a − 1)`` to ``LAST(b)``
(pure).

When no node can serve the end state of an epoch any more (and no archive has it), the ledger
settles the span between the last readable state it kept (the end of window ``a − 1``) and the
next readable one (``LAST(b)``) as one window. The accounting rule is the window rule of
accounting.md §4.1 over the span: per validator

    r_v([a, b]) = B_v(b) − B_v(a − 1) + Σ W_v − Dep_v + (consolidations)

with the withdrawals and deposit requests of every canonical block of the span and the deposit
queue at both ends; so the sum over the span is exactly what the balances say. The span's figure
is then spread over its epochs (``spread``: equal shares, the remainder on the last epoch) so each
epoch's row exists, uses that epoch's delegator weights, and carries its own duty verdicts; the
rows are marked merged. A consolidation processed inside the span cannot be valued exactly (its
amount depends on the source's balance at that moment): ``processed_consolidations`` finds it
and the caller refuses to merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stakepool.rewards.maths import settle
from stakepool.rewards.types import BalanceMoves, ValidatorEpochReward


def spread(total: int, epochs: int) -> list[int]:
    """``total`` over ``epochs`` equal shares (floor), the remainder on the last: ``Σ == total``,
    every share within one ``epochs``-th of the exact one, all shares of one sign."""
    if epochs < 1:
        raise ValueError(f"a span has at least one epoch, got {epochs}")
    if total < 0:  # a loss stays a loss in every epoch: never a gain beside it
        return [-share for share in spread(-total, epochs)]
    share, rest = divmod(total, epochs)
    return [share] * (epochs - 1) + [share + rest]


def processed_consolidations(
    start: Iterable[tuple[int, int]], end: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Queue entries at the span's start that are gone at its end (processed inside it)."""
    gone = Counter(start)
    gone.subtract(Counter(end))
    return sorted(pair for pair, n in gone.items() for _ in range(max(0, n)))


@dataclass(frozen=True, slots=True)
class SpanEnd:
    """What the readable state at ``LAST(b)`` and the span's blocks say about the pool."""

    balances: Mapping[int, int]
    """Pool validators' balances at ``LAST(b)`` (absent: not created yet)."""
    pubkeys: Mapping[int, str]
    """Lower-case pubkeys of the pool validators that exist at ``LAST(b)``."""
    pending: Mapping[str, int]
    """Σ queued deposits per lower-case pubkey at ``LAST(b)``."""
    withdrawals: Mapping[int, int]
    """Σ withdrawals per validator in every canonical block of the span."""
    deposit_requests: Mapping[str, int]
    """Σ deposit requests per lower-case pubkey in every canonical block of the span."""


def span_rows(
    first: int,
    last: int,
    indices: Sequence[int],
    start: Mapping[int, ValidatorEpochReward],
    end: SpanEnd,
) -> dict[int, list[ValidatorEpochReward]]:
    """Per epoch of ``[first, last]``, each validator's row: its share of the span's settlement.

    ``start`` holds the rows of window ``first − 1`` (their end balance and queued deposits are
    the span's start). The span's balances and moves are on the last epoch's row (the start of a
    later merge); the other rows carry only their share."""
    n = last - first + 1
    out: dict[int, list[ValidatorEpochReward]] = {e: [] for e in range(first, last + 1)}
    for v in indices:
        before = start.get(v)
        b_start = 0 if before is None else before.balance_end_gwei
        pending_start = 0 if before is None else before.moves.pending_deposits_end_gwei
        pubkey = end.pubkeys.get(v, "")
        moves = BalanceMoves(
            withdrawals_gwei=end.withdrawals.get(v, 0),
            deposit_requests_gwei=end.deposit_requests.get(pubkey, 0),
            pending_deposits_start_gwei=pending_start,
            pending_deposits_end_gwei=end.pending.get(pubkey, 0),
        )
        b_end = end.balances.get(v, 0)
        shares = spread(settle(b_start, b_end, moves), n)
        for i, share in enumerate(shares):
            epoch = first + i
            final = epoch == last
            out[epoch].append(
                ValidatorEpochReward(
                    validator=v,
                    epoch=epoch,
                    settlement_gwei=share,
                    balance_start_gwei=b_start,
                    balance_end_gwei=b_end,
                    moves=moves if final else BalanceMoves(),
                    effective_balance_gwei=0,
                )
            )
    return out
