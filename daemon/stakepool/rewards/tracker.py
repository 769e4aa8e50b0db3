"""``RewardsTracker``: settle each window as it closes, explain it as soon as the node can.

The daemon calls ``close(k)`` once the head is past ``LAST(k)``. Settlement (money) never waits for
the rewards endpoints; a window they cannot explain yet is kept and retried at every later
``close`` until it is explained or ``patience`` windows have passed — unless the node lacks a
rewards endpoint (stock Lodestar v1.5.1): such a window is never explained and never retried, since
reading it again later would only fail on states the node has pruned meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

import structlog

from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.types import EpochRewards

log = structlog.get_logger(__name__)


class RewardsTracker:
    """``pool()`` gives the pool's validator indices at the time of the call."""

    def __init__(
        self,
        fetcher: RewardsFetcher,
        pool: Callable[[], Collection[int]],
        *,
        patience: int = 4,
    ) -> None:
        self.fetcher = fetcher
        self.pool = pool
        self.patience = max(0, patience)
        self.waiting: dict[int, EpochRewards] = {}
        """Settled windows whose explanation is still missing, by epoch."""

    async def close(self, epoch: int) -> list[EpochRewards]:
        """Settle window ``epoch`` and explain what can be; returns every window produced.

        The first item is window ``epoch`` (explained or not); the others are earlier windows
        explained now, or given up (``explanation_reason`` says so), oldest first. A
        ``BeaconError`` while settling propagates: call again for the same epoch later (the
        result is the same for the same chain)."""
        settled = await self.fetcher.settle(epoch, self.pool())
        current = await self.fetcher.explain(settled)
        out = [current]
        for k in sorted(self.waiting):
            if k >= epoch:
                continue
            earlier = await self.fetcher.explain(self.waiting[k])
            if earlier.explanation_available:
                del self.waiting[k]
                out.append(earlier)
            elif earlier.explanation_never:
                del self.waiting[k]
            elif epoch - k >= self.patience:
                del self.waiting[k]
                reason = f"gave up after {epoch - k} epochs: {earlier.explanation_reason}"
                log.warning("rewards_unexplained", epoch=k, reason=earlier.explanation_reason)
                out.append(replace(earlier, explanation_reason=reason))
            else:
                self.waiting[k] = earlier
        if current.explanation_available or current.explanation_never or self.patience == 0:
            self.waiting.pop(epoch, None)
        else:
            self.waiting[epoch] = current
        return out
