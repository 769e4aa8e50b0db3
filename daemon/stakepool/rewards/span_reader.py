"""``SpanReader``: the I/O of a merged window (``merging``): which end state is readable, and the
span's blocks and end state read from the node.

The start of a span is never read from the node: it is the end of the window the ledger settled
last, kept durably (``EpochRewards`` of window ``a − 1``), because a state the node no longer
serves at ``LAST(a)`` is gone at ``LAST(a − 1)`` too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from stakepool.beacon.errors import NotFound
from stakepool.rewards.fetcher import RewardsFetcher
from stakepool.rewards.merging import SpanEnd, processed_consolidations, span_rows
from stakepool.rewards.settlement_reader import pool_consolidations
from stakepool.rewards.settling import last_slot
from stakepool.rewards.types import EpochRewards
from stakepool.rewards.window import window_facts


class SpanRefused(Exception):
    """The span cannot be settled exactly as one window; the message says why."""


class SpanReader:
    def __init__(self, fetcher: RewardsFetcher) -> None:
        self.fetcher = fetcher

    def _last(self, epoch: int) -> int:
        return last_slot(epoch, self.fetcher.spec.slots_per_epoch)

    async def end_readable(self, epoch: int, probe: int) -> bool:
        """Whether the node serves the state at ``LAST(epoch)`` (``NotFound``: it does not; any
        other failure is raised: it says nothing about the node's history)."""
        try:
            await self.fetcher.client.state.balances(str(self._last(epoch)), [probe])
        except NotFound:
            return False
        return True

    async def read(
        self, first: int, last: int, indices: Sequence[int], start: EpochRewards
    ) -> list[EpochRewards]:
        """One window per epoch of ``[first, last]`` carrying its share of the span's settlement
        (``merging.span_rows``); raises ``SpanRefused`` or ``BeaconError``."""
        if start.epoch != first - 1:
            raise SpanRefused(f"the kept start is window {start.epoch}, not {first - 1}")
        before = {v.validator: v for v in start.validators}
        joined = [v for v in indices if v not in before]
        if joined:
            raise SpanRefused(f"validators {joined} joined the pool inside the span")
        states = self.fetcher.settlement.states
        end_id = str(self._last(last))
        records, meta = await states.records(end_id, indices)
        pending = await states.pending(end_id)
        queue = pool_consolidations(await states.consolidations(end_id), set(indices))
        processed = processed_consolidations(start.pending_consolidations, queue)
        if processed:
            raise SpanRefused(
                f"pool consolidations {processed} were processed inside the span: their amounts"
                " depend on states no node serves"
            )
        sync_size = self.fetcher.spec.sync_committee_size
        facts = {
            e: window_facts(await self.fetcher.settlement.blocks.window(e), sync_size)
            for e in range(first, last + 1)
        }
        withdrawals: dict[int, int] = defaultdict(int)
        deposits: dict[str, int] = defaultdict(int)
        for f in facts.values():
            for v, amount in f.withdrawals.items():
                withdrawals[v] += amount
            for key, amount in f.deposit_requests.items():
                deposits[key] += amount
        end = SpanEnd(
            balances={v: r.balance for v, r in records.items()},
            pubkeys={v: r.pubkey for v, r in records.items()},
            pending=pending,
            withdrawals=withdrawals,
            deposit_requests=deposits,
        )
        rows = span_rows(first, last, indices, before, end)
        pool = set(indices)
        out: list[EpochRewards] = []
        for e in range(first, last + 1):
            out.append(
                EpochRewards(
                    epoch=e,
                    validators=tuple(rows[e]),
                    proposals=await self.fetcher.el.proposals(facts[e], pool),
                    start_slot_state=self._last(first - 1),
                    end_slot_state=self._last(last),
                    start_state_id=start.end_state_id,
                    end_state_id=end_id,
                    block_roots=tuple(b.root for b in facts[e].blocks),
                    finalized=meta.finalized,
                    optimistic=meta.optimistic,
                    explanation_reason=f"merged window {first}-{last}: no per-epoch states",
                    explanation_never=True,
                    notes=(f"merged:{first}-{last}",),
                    pending_consolidations=queue if e == last else (),
                )
            )
        return out
