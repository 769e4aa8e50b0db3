"""When no node serves a window's states any more: settle the span to the next readable state as
one merged window (issue 12; the maths in ``rewards.merging``, the reads in
``rewards.span_reader``).

The feed calls ``try_merge(a, target)`` after window ``a`` failed with ``NotFound`` on every node
and every retry. The span starts at the end of window ``a − 1`` as the ledger kept it (durably,
``ledger_windows``) and ends at the first ``LAST(b)``, ``a ≤ b ≤ target``, that a node still
serves. The span's epochs are written in one transaction, each with its share of the span's
settlement, its own duty verdicts and the merged marker, with a ``ledger_window_merged`` warning
in the outbox; the log says it and ``stakepool_ledger_merged_epochs_total`` counts it. What cannot
be merged exactly (no kept start, a validator that joined inside the span, a consolidation
processed inside it) is not merged: settlement stays blocked there, loudly, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from stakepool.beacon.errors import BeaconError, NotFound
from stakepool.ledger.service import LedgerService
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.windows import WindowSource
from stakepool.rewards.span_reader import SpanReader, SpanRefused
from stakepool.rewards.types import EpochRewards

log = structlog.get_logger(__name__)


class WindowMerger:
    def __init__(
        self,
        windows: WindowSource,
        reader: SpanReader,
        ledger: LedgerService,
        to_input: Callable[[EpochRewards], EpochSettlementInput],
    ) -> None:
        self.windows = windows
        self.reader = reader
        self.ledger = ledger
        self.to_input = to_input

    async def try_merge(self, first: int, target: int, error: Exception) -> list[int] | None:
        """The epochs written by merging ``[first, b]``, or ``None`` (nothing written; why is
        logged when it is not simply a transient failure)."""
        if not isinstance(error, NotFound) or first < 2:
            return None
        last_settled = (await self.ledger.store.status()).last_settled_epoch
        if last_settled != first - 1:
            return None  # only at the ledger's next epoch: never over rows it holds
        start = await self.windows.kept_window(first - 1)
        if start is None:
            self._refused(first, "the window before it is not kept (settled before this version)")
            return None
        indices = sorted(self.windows.tracker.pool())
        if not indices:
            return None
        try:
            last = await self._next_readable(first, target, indices[0])
            if last is None:
                self._refused(first, f"no node serves any end state up to LAST({target}) yet")
                return None
            span = await self.reader.read(first, last, indices, start)
        except SpanRefused as exc:
            self._refused(first, str(exc))
            return None
        except BeaconError as exc:
            log.info("ledger_merge_deferred", epoch=first, error=str(exc))
            return None
        reason = (
            f"no beacon node serves the end states of epochs {first}..{last - 1} any more"
            if last > first
            else f"no beacon node serves the start state of epoch {first} any more"
        )
        inputs = [replace(self.to_input(w), merged=(first, last)) for w in span]
        await self.ledger.settle_merged(inputs, reason=reason)
        await self.windows.keep_window(span[-1])  # its end is the start of a later merge
        log.warning(
            "ledger_window_merged",
            first_epoch=first,
            last_epoch=last,
            reason=reason,
            hint=(
                "the span is settled as one window, exact in total; per-epoch figures are equal"
                " shares, marked merged (API, exports); an archive node ([beacon] archive_urls)"
                " avoids this"
            ),
        )
        return list(range(first, last + 1))

    async def _next_readable(self, first: int, target: int, probe: int) -> int | None:
        for epoch in range(first, target + 1):
            if await self.reader.end_readable(epoch, probe):
                return epoch
        return None

    def _refused(self, epoch: int, why: str) -> None:
        log.warning("ledger_merge_refused", epoch=epoch, reason=why)
