"""``StateReader``: the parts of a beacon state the rewards read, by state id, in chunks.

A part of its own because three readers need the same reads done the same way: the settlement
(both ends of a window), the re-read of a window the cache forgot, and the explanation (records of
the validators slashed in the window). Validators are asked ``chunk`` at a time, one chunk after
the other, and each answer is compacted into ``Record`` or plain integers at once, so a big pool's
answers are never all in memory as API models together. ``StateMeta`` says what the answers said
about their states (finalized, optimistic). The only state it keeps is the client and the chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BadRequest, Unsupported
from stakepool.beacon.models import PendingConsolidation
from stakepool.rewards.explaining import Record
from stakepool.rewards.known_states import KnownStates
from stakepool.rewards.window import pending_by_pubkey


@dataclass(frozen=True, slots=True)
class StateMeta:
    """What the answers said about their states, combined over chunks and states."""

    finalized: bool | None = True
    """Finalized only if every answer is; ``None`` once an answer did not say."""
    optimistic: bool = False

    def add(self, finalized: bool | None, optimistic: bool) -> StateMeta:
        both = None if self.finalized is None or finalized is None else self.finalized and finalized
        return StateMeta(both, self.optimistic or optimistic)


@dataclass(frozen=True, slots=True)
class WindowEnds:
    """Both ends of a window as ``settle`` reads them (``StateReader.ends``)."""

    start: dict[int, Record]
    """Records at ``LAST(k − 1)``."""
    start_meta: StateMeta
    end: dict[int, int]
    """Balances at ``LAST(k)``."""
    end_meta: StateMeta
    pending_start: dict[str, int]
    pending_end: dict[str, int]
    consolidations_start: tuple[PendingConsolidation, ...]
    consolidations_end: tuple[PendingConsolidation, ...]


def chunked(indices: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    """``indices`` in slices of at most ``size``, in order."""
    return (indices[i : i + size] for i in range(0, len(indices), size))


class StateReader:
    """``chunk``: validators per request (at least 1). ``known``: states the daemon already read
    (by root), served from memory instead of asking the node again."""

    def __init__(
        self, client: BeaconClient, *, chunk: int, known: KnownStates | None = None
    ) -> None:
        self.client = client
        self.chunk = max(1, chunk)
        self.known = known if known is not None else KnownStates(keep=0)

    async def ends(self, start_id: str, end_id: str, indices: Sequence[int]) -> WindowEnds:
        """Records at the start, balances at the end, and both ends' queues, read together."""
        (start, end), (q_start, q_end, c_start, c_end) = await asyncio.gather(
            asyncio.gather(self.records(start_id, indices), self.balances(end_id, indices)),
            asyncio.gather(
                self.pending(start_id),
                self.pending(end_id),
                self.consolidations(start_id),
                self.consolidations(end_id),
            ),
        )
        return WindowEnds(
            start=start[0],
            start_meta=start[1],
            end=end[0],
            end_meta=end[1],
            pending_start=q_start,
            pending_end=q_end,
            consolidations_start=c_start,
            consolidations_end=c_end,
        )

    async def records(
        self, state_id: str, indices: Sequence[int]
    ) -> tuple[dict[int, Record], StateMeta]:
        out: dict[int, Record] = {}
        meta = StateMeta()
        if state_id.startswith("-"):
            return out, meta
        known = self.known.get(state_id)
        if known is not None:
            # 100,000 records built (~0.3 s): off the loop; the kept columns never change.
            rows, indices = known.rows(indices)
            out.update(await asyncio.to_thread(known.records, rows))
            meta = meta.add(known.finalized, known.optimistic)
        for part in chunked(indices, self.chunk):
            env = await self.client.state.validator_columns(state_id, part)
            meta = meta.add(env.finalized, env.execution_optimistic)
            c = env.data  # columns: already checked, pubkeys lower-case
            out.update(
                zip(
                    c.index,
                    map(
                        Record,
                        c.balance,
                        c.effective_balance,
                        map(bool, c.slashed),
                        c.activation_epoch,
                        c.exit_epoch,
                        c.withdrawable_epoch,
                        c.pubkey,
                    ),
                    strict=True,
                )
            )
        return out, meta

    async def balances(
        self, state_id: str, indices: Sequence[int]
    ) -> tuple[dict[int, int], StateMeta]:
        out: dict[int, int] = {}
        meta = StateMeta()
        known = self.known.get(state_id)
        if known is not None:
            rows, indices = known.rows(indices)
            out.update(await asyncio.to_thread(known.balances, rows))
            meta = meta.add(known.finalized, known.optimistic)
        for part in chunked(indices, self.chunk):
            env = await self.client.state.balance_columns(state_id, part)
            meta = meta.add(env.finalized, env.execution_optimistic)
            out.update(zip(env.data.index, env.data.balance, strict=True))
        return out, meta

    async def pending(self, state_id: str) -> dict[str, int]:
        if state_id.startswith("-"):
            return {}
        try:
            env = await self.client.state.pending_deposits(state_id)
        except (Unsupported, BadRequest):
            # Before Electra there is no queue (400): deposits credit the balance in their block.
            return {}
        return pending_by_pubkey(env.data)

    async def consolidations(self, state_id: str) -> tuple[PendingConsolidation, ...]:
        if state_id.startswith("-"):
            return ()
        try:
            return (await self.client.state.pending_consolidations(state_id)).data
        except (Unsupported, BadRequest):
            return ()
