"""Finality decides what the witness disagreed about (``[beacon] cross_check``).

A disagreement leaves the ledger holding the primary's answer, provisionally. When the chain has
finalized the epoch — told before the ledger flips rows final (``MoneyPath.before_finalize``), so
they can still be corrected — both nodes are asked again:

* they agree now: that is the answer; when it is not what the ledger wrote, the epoch is settled
  again from it;
* they still disagree: each node's state at the epoch's last block is held against the state root
  that block commits to (``states/{slot}/root`` against ``headers/{slot}``). A node whose state
  contradicts the chain it follows computed it wrongly, and the other node's answer stands: the
  ledger keeps the primary's (``cross_check_confirmed``) or settles the epoch again from the
  witness (``cross_check_corrected``);
* neither can be shown wrong (both states match their blocks, or a node cannot tell):
  ``cross_check_unresolved`` (critical); the ledger keeps the primary's answer and an operator
  decides. Rows final already (the disagreement resolved too late) are never rewritten either:
  the same critical event says so.

The disagreements not resolved yet are kept (``kept_state['cross_check_pending']``) in the
transaction of their own event, and dropped in the transaction of the event that resolves them,
so a restart resolves what was pending.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.types import Epoch
from stakepool.ledger.store.interface import FinalRowError
from stakepool.monitor.daemon_events import (
    CrossCheckConfirmed,
    CrossCheckCorrected,
    CrossCheckUnresolved,
)
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.service.event_sink import EventSink
from stakepool.store.unit import UnitOfWork

log = structlog.get_logger("stakepool.witness")

PENDING_KEY = "cross_check_pending"

Deltas = dict[int, int | None]
"""A validator's balance change over an epoch (None: not reported at both ends)."""

Correct = Callable[[BeaconClient, int, list[int]], Awaitable[list[int]]]
"""Settles an epoch again from that client's node (``MoneyPath.correct_epoch``)."""


@dataclass(frozen=True, slots=True)
class Pending:
    indices: tuple[int, ...]
    """Every pool validator the ledger settled in the epoch (a correction reads them all)."""
    differ: tuple[int, ...]
    """Those the nodes disagreed about."""
    provisional: Mapping[int, int | None]
    """The primary's balance change for them: what the ledger was written from."""


async def balance_deltas(client: BeaconClient, epoch: int, indices: list[int], spe: int) -> Deltas:
    """Each validator's balance change over ``epoch`` (end of ``epoch − 1`` to end of ``epoch``)."""
    before = await client.state.balances(epoch * spe - 1, indices)
    after = await client.state.balances((epoch + 1) * spe - 1, indices)
    start = {int(b.index): int(b.balance) for b in before.data}
    end = {int(b.index): int(b.balance) for b in after.data}
    return {i: end[i] - start[i] if i in start and i in end else None for i in indices}


async def consistent(client: BeaconClient, epoch: int, spe: int) -> bool | None:
    """Whether the node's state at the epoch's last block is the one that block commits to;
    None: the node cannot tell (no block in the epoch, the state pruned)."""
    for slot in range((epoch + 1) * spe - 1, epoch * spe - 1, -1):
        header = await client.blocks.header(slot)
        if header is None or int(header.data.slot) != slot:
            continue
        root = await client.state.root(slot)
        if root is None:
            return None
        return str(root.data.root).lower() == str(header.data.header.message.state_root).lower()
    return None


def _gwei(amount: int | None) -> str | None:
    return None if amount is None else str(amount)


class FinalityJudge:
    def __init__(
        self,
        primary: tuple[str, BeaconClient],
        witness: tuple[str, BeaconClient],
        events: EventSink,
        correct: Correct,
        resolved: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        (self.primary_url, self.primary), (self.witness_url, self.witness) = primary, witness
        self.events = events
        self.correct = correct
        self.resolved = resolved
        """Told each outcome (``confirmed``, ``corrected``, ``unresolved``): the metric."""
        self.pending: dict[int, Pending] = {}

    async def restore(self) -> None:
        text = await self.events.db.view(lambda unit: unit.kept(PENDING_KEY))
        for epoch, item in (json.loads(text) if text else {}).items():
            self.pending[int(epoch)] = Pending(
                tuple(item["indices"]),
                tuple(item["differ"]),
                {int(k): v for k, v in item["provisional"].items()},
            )

    def _keep(self, unit: UnitOfWork) -> None:
        document = {
            str(epoch): {
                "indices": list(p.indices),
                "differ": list(p.differ),
                "provisional": {str(k): v for k, v in p.provisional.items()},
            }
            for epoch, p in sorted(self.pending.items())
        }
        unit.keep(PENDING_KEY, json.dumps(document, sort_keys=True))

    async def remember(self, epoch: int, pending: Pending, event: MonitorEvent) -> None:
        """A new disagreement: kept in the transaction of its event."""
        self.pending[epoch] = pending
        await self.events.emit([event], self._keep)

    async def _settled(self, epoch: int, event: MonitorEvent) -> None:
        self.pending.pop(epoch, None)
        await self.events.emit([event], self._keep)

    async def resolve(self, finalized_epoch: int) -> None:
        """Every pending disagreement about an epoch the chain has finalized."""
        for epoch in sorted(e for e in self.pending if e <= finalized_epoch):
            try:
                await self._resolve(epoch, self.pending[epoch])
            except BeaconError as exc:  # asked again at the next finality (rows may be final)
                log.info("cross_check_resolution_deferred", epoch=epoch, error=str(exc))

    async def _resolve(self, epoch: int, p: Pending) -> None:
        spe = await self.primary.node.slots_per_epoch()
        indices = list(p.differ)
        primary = await balance_deltas(self.primary, epoch, indices, spe)
        witness = await balance_deltas(self.witness, epoch, indices, spe)
        if primary == witness:  # they agree now: the ledger holds that answer or is corrected
            if primary == dict(p.provisional):
                await self._confirm(epoch, p)
            else:
                await self._correct(epoch, p, witness)
            return
        primary_ok = await consistent(self.primary, epoch, spe)
        witness_ok = await consistent(self.witness, epoch, spe)
        if primary_ok is True and witness_ok is False:
            await self._confirm(epoch, p)
        elif witness_ok is True and primary_ok is False:
            await self._correct(epoch, p, witness)
        else:
            await self._unresolved(
                epoch,
                p,
                "the nodes still disagree at finality and neither state contradicts its chain"
                f" (primary matches its blocks: {primary_ok}, witness: {witness_ok})",
            )

    async def _confirm(self, epoch: int, p: Pending) -> None:
        event = CrossCheckConfirmed(
            epoch=Epoch(epoch),
            primary=self.primary_url,
            witness=self.witness_url,
            validators=p.differ,
        )
        await self._settled(epoch, event)
        self.resolved("confirmed")

    async def _correct(self, epoch: int, p: Pending, final: Deltas) -> None:
        try:
            written = await self.correct(self.witness, epoch, list(p.indices))
        except FinalRowError as exc:
            await self._unresolved(epoch, p, f"the epoch's rows were final already: {exc}")
            return
        log.info("cross_check_ledger_corrected", epoch=epoch, epochs_written=written)
        event = CrossCheckCorrected(
            epoch=Epoch(epoch),
            right=self.witness_url,
            wrong=self.primary_url,
            validators=p.differ,
            provisional_delta_gwei=tuple(_gwei(p.provisional.get(v)) for v in p.differ),
            final_delta_gwei=tuple(_gwei(final.get(v)) for v in p.differ),
        )
        await self._settled(epoch, event)
        self.resolved("corrected")

    async def _unresolved(self, epoch: int, p: Pending, reason: str) -> None:
        event = CrossCheckUnresolved(
            epoch=Epoch(epoch),
            primary=self.primary_url,
            witness=self.witness_url,
            validators=p.differ,
            reason=reason,
        )
        await self._settled(epoch, event)
        self.resolved("unresolved")
