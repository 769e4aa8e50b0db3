"""``ElRewardsReader``: the execution-layer reward of each of the pool's proposals in a window.

A part of its own because it talks to another node (the EL, optional) and fails differently: an
EL error never fails the window — the proposal's reward is reported unknown (``None``, never 0)
with the reason, and a warning is logged. Its only state is the EL client and the pool's
fee-recipient addresses (which recognise MEV-boost payments; see ``execution.maths.el_reward``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace

import structlog

from stakepool.execution.client import ExecutionClient
from stakepool.execution.rpc import ExecutionError
from stakepool.rewards.types import ProposalEl
from stakepool.rewards.window import WindowFacts

log = structlog.get_logger(__name__)


class ElRewardsReader:
    """``execution``: ``None`` reports every EL reward unknown ("no execution.url configured")."""

    def __init__(
        self, execution: ExecutionClient | None, fee_recipients: Collection[str] = ()
    ) -> None:
        self.execution = execution
        self.fee_recipients = tuple(a.lower() for a in fee_recipients)

    async def proposals(self, facts: WindowFacts, pool: set[int]) -> tuple[ProposalEl, ...]:
        """One ``ProposalEl`` per block of ``pool`` in the window, in slot order."""

        async def one(slot: int, proposer: int, block_hash: str | None) -> ProposalEl:
            base = ProposalEl(slot=slot, proposer=proposer, block_hash=block_hash)
            if block_hash is None:
                return replace(base, reason="no execution payload")
            if self.execution is None:
                return replace(base, reason="no execution.url configured")
            try:
                reward = await self.execution.el_reward(block_hash, self.fee_recipients)
            except ExecutionError as exc:
                log.warning("el_reward_failed", slot=slot, error=str(exc))
                return replace(base, reason=str(exc))
            return replace(base, reward=reward)

        ours = [b for b in facts.blocks if b.proposer in pool]
        return tuple(await asyncio.gather(*(one(b.slot, b.proposer, b.block_hash) for b in ours)))
