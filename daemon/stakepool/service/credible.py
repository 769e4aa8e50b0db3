"""Where a node says the chain is, held against the wall clock before the daemon believes it.

The head and the finalized checkpoint move the daemon's whole view: a head closes every epoch
before it, and finality turns ledger rows final (payable) and never goes back. A node's answer
that still parses but puts either past the present (a damaged number: 2⁶⁴−1 is a valid uint64)
would close epochs that have not happened or finalize rows the chain has not finalized. Such an
observation is set aside (a polled one is asked again at the next poll; a closed epoch's report
fails and is retried). One epoch of margin covers clock skew between the node and us.
"""

from __future__ import annotations

import time

from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models import FinalizedCheckpointEvent, HeadEvent
from stakepool.chain.clock import ChainClock

MARGIN_EPOCHS = 1


def _latest_epoch(clock: ChainClock, now_ms: int | None) -> int:
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return clock.epoch_at(now) + MARGIN_EPOCHS


def incredible(data: object, clock: ChainClock, now_ms: int | None = None) -> str | None:
    """Why a stream (or polled) event cannot be true now, or ``None`` when it can."""
    latest = _latest_epoch(clock, now_ms)
    if isinstance(data, HeadEvent) and clock.epoch_of(data.slot) > latest:
        return f"a head at slot {data.slot}, past the present epoch {latest - MARGIN_EPOCHS}"
    if isinstance(data, FinalizedCheckpointEvent) and data.epoch > latest:
        return f"a finalized epoch {data.epoch}, past the present epoch {latest - MARGIN_EPOCHS}"
    return None


def check_checkpoints(
    justified: int, finalized: int, clock: ChainClock, now_ms: int | None = None
) -> None:
    """``InconsistentAnswer`` for head checkpoints past the present."""
    latest = _latest_epoch(clock, now_ms)
    if max(justified, finalized) > latest:
        raise InconsistentAnswer(
            "finality_checkpoints",
            f"justified epoch {justified} or finalized epoch {finalized} is past the present"
            f" epoch {latest - MARGIN_EPOCHS}",
        )
