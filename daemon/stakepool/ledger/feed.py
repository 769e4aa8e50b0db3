"""From closed epochs to ledger rows: rewards windows + duty outcomes → ``LedgerService.settle``.

When: window ``k`` is settled once epoch ``k + 1`` has closed, i.e. when the monitor has judged the
attestations of ``k`` (their inclusion window ends at ``LAST(k + 1)``), so each row carries its
duty outcome. The ledger is therefore one epoch behind the head, still provisional until finality.

How reorgs and late explanations are handled: every input not yet final is kept (packed:
``kept_input``); settling an epoch again with different figures makes the ledger reverse that
epoch and every later one (rows kept in its audit trail), and the feed then settles the later
epochs again from what it kept. A ``chain_reorg`` marks its first changed epoch dirty; the next
close fetches the windows again from there, and the ledger's input digest decides which epochs
really changed (same figures → no-op).

Read ahead: window ``k`` is read from the node as soon as epoch ``k`` closes and written one
epoch later. Its start state ``LAST(k − 1)`` is then still after the finalized checkpoint: a node
that finalizes within two epochs and prunes the states behind finality (stock Lodestar) no longer
has it at the close of ``k + 1``. The window is kept durably too (``windows.WindowSource``, the
``ledger_windows`` table), so neither a restart nor the node's pruning loses it. A kept window is
used only if its last block is still canonical (and no reorg marked it dirty); otherwise it is
read again. Every read is retried within the epoch before it counts as failed.

Gaps: the ledger settles in order and refuses gaps. A fresh ledger starts at the first epoch it
tried (its *origin*, kept in the database), however long its first attempts fail. After a restart
the feed resumes at the ledger's next epoch; windows the node can no longer serve fail loudly and
are retried each epoch (money is never skipped silently).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from stakepool.beacon.errors import (
    BeaconError,
    InconsistentAnswer,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    Unsupported,
)
from stakepool.ledger.duty_memory import DutyMemory, EpochOutcomes
from stakepool.ledger.kept_input import KeptInput
from stakepool.ledger.merge import WindowMerger
from stakepool.ledger.service import LedgerService
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.interface import LedgerError
from stakepool.ledger.store.windows_sql import KeptWindows
from stakepool.ledger.windows import DEFAULT_DELAYS, WindowSource
from stakepool.rewards.fetcher import WindowNotReady
from stakepool.rewards.span_reader import SpanReader
from stakepool.rewards.tracker import RewardsTracker
from stakepool.rewards.types import EpochRewards, ValidatorEpochReward

log = structlog.get_logger(__name__)


def components(reward: ValidatorEpochReward) -> dict[str, int] | None:
    e = reward.explanation
    if e is None:
        return None
    out = {
        "source": e.source,
        "target": e.target,
        "head": e.head,
        "inactivity": e.inactivity,
        "proposer": e.proposer,
        "sync": e.sync,
        "slashing_penalty": -e.slashing_penalty,
    }
    if e.correlation_penalty is not None:
        out["correlation_penalty"] = -e.correlation_penalty
    return out


def settlement_input(window: EpochRewards, outcomes: EpochOutcomes | None) -> EpochSettlementInput:
    """The ledger's input for one rewards window (pure)."""
    proposed: dict[int, int] = {}
    for p in window.proposals:
        proposed[p.proposer] = proposed.get(p.proposer, 0) + 1
    rows = []
    for v in window.validators:
        included = None if outcomes is None else outcomes.attestation_included.get(v.validator)
        missed = 0 if outcomes is None else outcomes.proposals_missed.get(v.validator, 0)
        rows.append(
            ValidatorEpochRow(
                validator_index=v.validator,
                reward_gwei=v.settlement_gwei,
                components_gwei=components(v),
                residual_gwei=v.residual_gwei,
                attestation_included=included,
                proposals=proposed.get(v.validator, 0),
                proposals_missed=missed,
            )
        )
    return EpochSettlementInput(
        epoch=window.epoch,
        cl_reward_gwei=window.settlement_gwei,
        el_reward_wei=window.el_wei,
        validators=tuple(rows),
    )


def _input_and_kept(
    window: EpochRewards, outcomes: EpochOutcomes | None
) -> tuple[EpochSettlementInput, KeptInput]:
    """The input to settle now, and the same packed to keep until final (one thread hop)."""
    inp = settlement_input(window, outcomes)
    return inp, KeptInput.pack(inp)


class LedgerFeed:
    """Drives the ledger from the epoch worker; every money write goes through ``LedgerService``."""

    def __init__(
        self,
        tracker: RewardsTracker,
        ledger: LedgerService,
        duties: DutyMemory | None = None,
        *,
        retry_delays: Sequence[float] = DEFAULT_DELAYS,
        archive: RewardsTracker | None = None,
    ) -> None:
        self.tracker = tracker
        self.ledger = ledger
        self.duties = duties if duties is not None else DutyMemory()
        self.windows = WindowSource(
            tracker, KeptWindows(ledger.store.db), delays=retry_delays, archive=archive
        )
        """Windows read at their own epoch's close (kept durably), or read when settled."""
        self.merger = WindowMerger(
            self.windows,
            SpanReader(tracker.fetcher),
            ledger,
            lambda w: settlement_input(w, self.duties.outcomes(w.epoch)),
        )
        self._inputs: dict[int, KeptInput] = {}
        self._dirty_from: int | None = None
        self.behind = False
        """The last pass ended short of its target (a window unread, a write refused): the
        service tries it again between closes, since the next close may never come (a halt)."""

    def on_reorg(self, first_changed_epoch: int) -> None:
        if self._dirty_from is None or first_changed_epoch < self._dirty_from:
            self._dirty_from = first_changed_epoch

    async def on_epoch_closed(self, closed: int) -> list[int]:
        """Settle every window up to ``closed − 1``, then read window ``closed`` ahead; returns
        the epochs written (or re-written). The ledger's gauges are refreshed once, at the end
        (with ``on_finalized`` before it, one pass over the delegators per close, not per write)."""
        try:
            written = await self._settle_through(closed - 1)
        finally:
            await self.ledger.refresh_totals()
        await self.windows.read_ahead(closed)
        return written

    async def _settle_through(self, target: int) -> list[int]:
        if target < 1:
            return []  # window 0 has no start state: balances begin at genesis
        status = await self.ledger.store.status()
        last, final = status.last_settled_epoch, status.last_final_epoch
        if last is None:
            # A fresh ledger starts at the first epoch it tried, kept durably: failing first
            # attempts block it there (as the log says), they never move its start later.
            start = await self.windows.kept.origin(target)
        else:
            start = last + 1
        if self._dirty_from is not None and last is not None:
            start = min(start, max(self._dirty_from, 1 if final is None else final + 1))
        if self._dirty_from is not None:
            self.windows.forget_from(self._dirty_from)
            await self.windows.drop_kept_from(self._dirty_from)
        self.windows.forget_before(start)  # settled already (a restart, a replay): not needed
        written: list[int] = []
        end = self._verdicts_through(start, target)
        dirty = self._dirty_from
        try:
            await self._settle_range(start, end, written)
            if written:  # settled: kept in the database until final, no longer needed in memory
                self.windows.forget_before(max(written) + 1)
            if end < target and dirty is not None and self._dirty_from is None:
                self._dirty_from = max(dirty, end + 1)  # the epochs held back are still to redo
        finally:
            await self._report_lag(target + 1)
        return written

    def _verdicts_through(self, start: int, target: int) -> int:
        """``target``, or the epoch before the first one whose duty verdicts the monitor is
        still trying to make (it failed them at their close and tries again at the next ones,
        a bounded number of times): a row settled now would lack them for good, unlike the same
        row settled by an undisturbed run. The wait ends when they come or are given up."""
        pending = self.duties.first_pending(since=start)  # a row held already: nothing to wait
        if pending is None or pending > target:
            return target
        log.info("ledger_waiting_for_duty_verdicts", epoch=pending, target=target)
        return pending - 1

    async def _settle_range(self, start: int, target: int, written: list[int]) -> None:
        epoch = start
        while epoch <= target:
            try:
                windows = await self.windows.window(epoch)
            except (BeaconError, WindowNotReady) as exc:
                # Retried within this close (bounded cost); settlement never skips an epoch.
                # States no node serves any more: the span to the next readable state is settled
                # as one merged window (``merge``), exact in total and marked so.
                merged = await self.merger.try_merge(epoch, target, exc)
                if merged is not None:
                    written.extend(merged)
                    epoch = merged[-1] + 1
                    continue
                # A warning, not an error: the stake is safe and nothing is lost, the ledger is
                # late; stakepool_ledger_lag_epochs and StakepoolLedgerLagging page.
                log.warning(
                    "ledger_window_unavailable",
                    epoch=epoch,
                    behind_epochs=target - epoch + 1,
                    error=str(exc),
                    hint=unavailable_hint(exc),
                )
                return
            for window in windows:
                try:
                    written.extend(await self._settle(window, fetched_through=epoch))
                except LedgerError as exc:
                    # A finalized row whose input changed, or a gap: the ledger keeps what it has
                    # and says so; the next close tries again from its next epoch.
                    log.error("ledger_settle_refused", epoch=window.epoch, error=str(exc))
                    return
            epoch += 1
        self._dirty_from = None

    async def _report_lag(self, closed: int) -> None:
        last = (await self.ledger.store.status()).last_settled_epoch
        self.behind = last is None or last < closed - 1
        self.ledger.set_lag(closed - (0 if last is None else last))

    async def explain_pending(self) -> list[int]:
        """Between closes: each settled window still waiting for its explanation asked once
        more; one explained now is stored on its rows (a late explanation: final rows take it
        too, and their digest becomes the explained input's). Why not wait for the next close:
        it may never come (a halt), and the row would stay unlike an undisturbed run's. Returns
        the epochs explained now."""
        tracker = self.windows.tracker
        last = (await self.ledger.store.status()).last_settled_epoch
        explained: list[int] = []
        for epoch in sorted(k for k in tracker.waiting if last is not None and k <= last):
            again = await tracker.fetcher.explain(tracker.waiting[epoch])
            if again.explanation_never:
                tracker.waiting.pop(epoch, None)
            if not again.explanation_available:
                continue
            await self._settle(again, fetched_through=epoch)
            tracker.waiting.pop(epoch, None)  # only once stored: a failed write asks again
            explained.append(epoch)
        if explained:
            log.info("ledger_windows_explained_between_closes", epochs=explained)
        return explained

    def explanation_pending(self) -> list[int]:
        """Epochs read without their explanation that are still asked for it (between closes
        too: ``explain_pending``)."""
        return sorted(self.windows.tracker.waiting)

    async def on_finalized(self, finalized_epoch: int) -> None:
        """Flip final rows; the gauges follow at the ``on_epoch_closed`` that comes next."""
        epochs = await self.ledger.finalize(finalized_epoch, refresh_totals=False)
        if epochs:
            final = max(epochs)
            for epoch in [e for e in self._inputs if e <= final]:
                del self._inputs[epoch]
            status = await self.ledger.store.status()
            await self.windows.prune(status.last_final_epoch, status.last_settled_epoch)

    async def correct(self, window: EpochRewards) -> list[int]:
        """Settle ``window`` again from figures read elsewhere (a witness node shown right at
        finality, ``service/witness``): the ledger reverses the epoch's provisional rows and the
        later ones, which are settled again from their kept inputs (those not kept are fetched
        again by the next close). ``FinalRowError`` when the epoch is final already."""
        last = (await self.ledger.store.status()).last_settled_epoch
        try:
            return await self._settle(window, fetched_through=max(window.epoch, last or 0))
        finally:
            await self.ledger.refresh_totals()

    async def _settle(self, window: EpochRewards, *, fetched_through: int) -> list[int]:
        """Settle one window; later epochs the ledger reversed for it are settled again from
        their kept inputs, but only up to ``fetched_through`` (what this pass has fetched): the
        epochs after it are fetched again by the pass itself, and their kept inputs may belong
        to the fork a reorg just abandoned."""
        # Pure, one row per pool validator: in a thread, so the event loop keeps its turns.
        outcomes = self.duties.outcomes(window.epoch)
        inp, kept_input = await asyncio.to_thread(_input_and_kept, window, outcomes)
        self._inputs[window.epoch] = kept_input
        result = await self.ledger.settle(inp, refresh_totals=False)
        written = [] if result.replayed else [window.epoch]
        later = sorted(e for e in result.reversed_epochs if window.epoch < e <= fetched_through)
        if result.reversed_epochs:
            log.info(
                "ledger_epochs_reversed", epoch=window.epoch, reversed=list(result.reversed_epochs)
            )
        for epoch in later:
            kept = self._inputs.get(epoch)
            if kept is None:
                break  # not kept (settled before a restart): the next close fetches it again
            again = await asyncio.to_thread(kept.unpack)
            await self.ledger.settle(again, refresh_totals=False)
            written.append(epoch)
        return written


def unavailable_hint(exc: Exception) -> str:
    """What the operator can do about a window that could not be read, by why it could not: a
    pruned state wants an archive node, a damaged answer does not."""
    if isinstance(exc, NotFound):
        why = "until the beacon node serves its states (an archive or longer state history)"
    elif isinstance(exc, (MalformedResponse, InconsistentAnswer)):
        why = (
            "while the beacon node's answers are malformed or disagree (see"
            " beacon_response_malformed); it asks again at each close"
        )
    elif isinstance(exc, Unsupported):
        why = "until a beacon node serves the route named in the error"
    elif isinstance(exc, NodeUnavailable):
        why = "until a beacon node answers (see beacon_node_down)"
    else:
        why = "until the error above clears; it asks again at each close"
    return f"settlement is blocked at this epoch {why}; see stakepool_ledger_lag_epochs"
