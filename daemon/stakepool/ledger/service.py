"""The ledger in the daemon: one object the root wires to rewards, finality and reorgs.

    ledger = LedgerService(store, bus, delegations_file=...)
    await ledger.settle(EpochSettlementInput(...))      # after rewards settled epoch k
    await ledger.finalize(finalized_epoch)               # on a finalized checkpoint
    await ledger.reorg(first_changed_epoch, reason=...)  # common ancestor found; then settle again
    task = asyncio.create_task(ledger.watch_delegations(lambda: clock_epoch + 1))

Each call is one transaction with its outbox events (``epoch_settled``, ``epoch_finalized``,
``epochs_reversed``); afterwards the ledger's facts go on the event bus (``ledger.facts``: the
pool's totals, the settled rows, the lag) for the faces that show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from stakepool.chain.bus import EventBus
from stakepool.ledger.delegations_gate import DelegationsGate, DelegationsGuard
from stakepool.ledger.facts import DelegationsHeld, EpochInputSettled, LedgerLag, WindowMerged
from stakepool.ledger.outbox_events import (
    committed_hook,
    finalized_hook,
    merged_event,
    reversed_hook,
    settled_hook,
)
from stakepool.ledger.queries import PoolTotals
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.interface import SettleResult
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.ledger.watcher import DelegationsWatcher


class LedgerService:
    def __init__(
        self,
        store: SqliteLedgerStore,
        bus: EventBus | None = None,
        *,
        delegations_file: Path | None = None,
        delegations_guard: DelegationsGuard | None = None,
        now: Callable[[], float] = time.time,
        events: bool = True,
    ) -> None:
        self.store = store
        self.bus = bus
        self.delegations_file = delegations_file
        self.delegations_guard = delegations_guard or DelegationsGuard()
        self.gate = DelegationsGate(
            lambda held: self._tell(DelegationsHeld(None if held is None else held.digest))
        )
        """Held file changes; the HTTP API confirms them."""
        self.now = now
        # Events go to the outbox only when something drains it (MQTT configured); otherwise the
        # bounded outbox would fill and count drops for nothing.
        self.events = events
        self._settled = settled_hook(store.pool_id, now) if events else None
        self._finalized = finalized_hook(store.pool_id, now) if events else None
        self._committed = committed_hook(store.pool_id, now) if events else None

    def close(self) -> None:
        self.store.db.close()

    async def settle(
        self, inp: EpochSettlementInput, *, refresh_totals: bool = True
    ) -> SettleResult:
        """``refresh_totals=False`` when the caller writes several epochs in a row and refreshes
        once at the end: the pool totals need one pass over every delegator for the dust."""
        result = await self.store.settle(inp, events=self._settled)
        self._tell(EpochInputSettled(inp))
        if refresh_totals:
            await self.refresh_totals()
        return result

    async def settle_merged(
        self, inputs: Sequence[EpochSettlementInput], *, reason: str
    ) -> list[SettleResult]:
        """A merged window's epochs (``inputs``, in order, each with ``merged`` set) in one
        transaction with a ``ledger_window_merged`` warning event; then told on the bus."""
        first, last = inputs[0].epoch, inputs[-1].epoch
        span = (
            [merged_event(self.store.pool_id, self.now, first, last, reason)] if self.events else []
        )
        results = await self.store.settle_span(inputs, events=self._settled, span_events=span)
        for inp in inputs:
            self._tell(EpochInputSettled(inp))
        self._tell(WindowMerged(first, last, reason))
        return results

    async def finalize(self, finalized_epoch: int, *, refresh_totals: bool = True) -> list[int]:
        epochs = await self.store.finalize(
            finalized_epoch, events=self._finalized, commitments=self._committed
        )
        if epochs and refresh_totals:
            await self.refresh_totals()
        return epochs

    async def reorg(self, first_changed_epoch: int, *, reason: str) -> list[int]:
        epochs = await self.store.revert_from(
            first_changed_epoch,
            reason=reason,
            events=reversed_hook(self.store.pool_id, self.now, reason) if self.events else None,
        )
        await self.refresh_totals()
        return epochs

    def set_lag(self, epochs: int) -> None:
        """Closed epochs not settled yet (1 in steady state: settlement waits one epoch)."""
        self._tell(LedgerLag(epochs))

    async def refresh_totals(self) -> None:
        """The pool's totals, told (they cost one pass over every delegator for the dust, so
        only when somebody listens)."""
        if self.bus is not None and self.bus.wants(PoolTotals):
            self.bus.publish(await self.store.pool_totals())

    def _tell(self, fact: object) -> None:
        if self.bus is not None:
            self.bus.publish(fact)

    def delegations_watcher(
        self,
        next_boundary: Callable[[], int | None],
        *,
        poll_seconds: float = 5.0,
        quiet: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> DelegationsWatcher | None:
        """A watcher of ``[pool] delegations_file`` (``None`` when not configured)."""
        if self.delegations_file is None:
            return None
        return DelegationsWatcher(
            self.delegations_file,
            self.store,
            next_boundary,
            poll_seconds=poll_seconds,
            guard=self.delegations_guard,
            gate=self.gate,
            quiet=quiet,
        )

    async def watch_delegations(
        self,
        next_boundary: Callable[[], int | None],
        *,
        poll_seconds: float = 5.0,
        quiet: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        watcher = self.delegations_watcher(next_boundary, poll_seconds=poll_seconds, quiet=quiet)
        if watcher is not None:
            await watcher.run()
