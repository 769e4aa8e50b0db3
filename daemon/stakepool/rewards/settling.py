"""Each pool validator's settlement row of one window, from what the node said about it (pure).

``SettlementReader`` (the I/O side) fills a ``WindowInputs``; ``settled_rows`` turns it into
``ValidatorEpochReward`` rows with ``maths.settle`` (accounting.md §4.1). Kept apart from the
reader so the money arithmetic of a window is testable without a node: no request, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stakepool.rewards.explaining import Record
from stakepool.rewards.maths import settle
from stakepool.rewards.types import BalanceMoves, ValidatorEpochReward
from stakepool.rewards.window import WindowFacts

_NO_MOVES = BalanceMoves()


def last_slot(epoch: int, slots_per_epoch: int) -> int:
    """``LAST(epoch)``: the last slot of ``epoch``."""
    return (epoch + 1) * slots_per_epoch - 1


@dataclass(frozen=True, slots=True)
class WindowInputs:
    """What the beacon node said about window ``k``: all that settling it needs."""

    facts: WindowFacts
    """The canonical blocks of ``k`` and what they moved (withdrawals, deposit requests)."""
    start_id: str
    """The state id read for ``LAST(k − 1)`` (a state root, or the slot)."""
    end_id: str
    """… and for ``LAST(k)``."""
    start: Mapping[int, Record]
    """Pool validators' records at ``LAST(k − 1)`` (absent: not created yet)."""
    end: Mapping[int, int]
    """Pool validators' balances at ``LAST(k)``."""
    newcomers: Mapping[int, Record]
    """Records at ``LAST(k)`` of the validators created inside the window (their pubkeys)."""
    pending_start: Mapping[str, int]
    """Σ queued deposits per lower-case pubkey at ``LAST(k − 1)``."""
    pending_end: Mapping[str, int]
    """… and at ``LAST(k)``."""
    consolidation_in: Mapping[int, int]
    """Moved into each pool target by the transition into ``k``."""
    consolidation_out: Mapping[int, int]
    """Moved out of each pool source."""
    finalized: bool | None
    """Whether every answer said its state is finalized (``None``: one did not say)."""
    optimistic: bool
    """An answer was ``execution_optimistic``."""
    consolidations_end: tuple[tuple[int, int], ...] = ()
    """``(source, target)`` of the pending consolidations touching the pool at ``LAST(k)``."""


def settled_rows(
    epoch: int, indices: Sequence[int], inputs: WindowInputs
) -> tuple[ValidatorEpochReward, ...]:
    """Balance-based ``r_v(k)`` of each of ``indices`` (in that order), not explained yet."""
    facts = inputs.facts
    rows: list[ValidatorEpochReward] = []
    for v in indices:
        rec = inputs.start.get(v) or inputs.newcomers.get(v)
        pubkey = rec.pubkey if rec is not None else ""
        figures = {
            "withdrawals_gwei": facts.withdrawals.get(v, 0),
            "deposit_requests_gwei": facts.deposit_requests.get(pubkey, 0),
            "pending_deposits_start_gwei": inputs.pending_start.get(pubkey, 0),
            "pending_deposits_end_gwei": inputs.pending_end.get(pubkey, 0),
            "consolidation_in_gwei": inputs.consolidation_in.get(v, 0),
            "consolidation_out_gwei": inputs.consolidation_out.get(v, 0),
        }
        # Most validators move nothing but rewards: share one empty record (100k-pool cost).
        moves = BalanceMoves(**figures) if any(figures.values()) else _NO_MOVES
        s = inputs.start.get(v)
        b_start = s.balance if s is not None else 0
        b_end = inputs.end.get(v, 0)
        rows.append(
            ValidatorEpochReward(
                validator=v,
                epoch=epoch,
                settlement_gwei=settle(b_start, b_end, moves),
                balance_start_gwei=b_start,
                balance_end_gwei=b_end,
                moves=moves,
                effective_balance_gwei=s.effective_balance if s is not None else 0,
            )
        )
    return tuple(rows)
