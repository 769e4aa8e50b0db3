"""Outbox events of the ledger (``epoch_settled``, ``epoch_finalized``, ``epochs_reversed``,
``period_committed``, ``ledger_window_merged``).

Hook factories for ``LedgerStore.settle/finalize/revert_from``: the store calls them inside the
transaction that writes the rows, so the events and the rows commit together. Event ids are
deterministic (kind, pool, epoch and, for a settlement, the figures' digest) so a replay cannot
enqueue an event twice, while a re-settlement after a reorg is a new event. The clock is passed
in (``now``) to keep this module free of I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from stakepool.ledger.settlement import EpochSettlement
from stakepool.ledger.statement_queries import CommittedHook, PeriodCommitment
from stakepool.ledger.store.interface import FinalizedHook, ReversedHook, SettledHook
from stakepool.store.envelope import outbox_event
from stakepool.store.outbox_event import OutboxEvent


def _settlement_data(s: EpochSettlement) -> dict[str, str | int | None]:
    return {
        "status": "provisional",
        "reward_cl_gwei": str(s.reward_cl_gwei),
        "reward_el_gwei": None if s.reward_el_gwei is None else str(s.reward_el_gwei),
        "reward_gwei": str(s.reward_gwei),
        "fee_gwei": str(s.fee_gwei),
        "bond_delta_gwei": str(s.bond_delta_gwei),
        "unassigned_gwei": str(s.unassigned_gwei),
        "distributed_gwei": str(s.distributed_gwei),
        "total_weight_gwei": str(s.total_weight_gwei),
        "delegators": s.delegators,
    }


def settled_hook(pool_id: str, now: Callable[[], float]) -> SettledHook:
    def build(s: EpochSettlement) -> Sequence[OutboxEvent]:
        data = _settlement_data(s)
        digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:16]
        return [
            outbox_event(
                kind="epoch_settled",
                event_id=f"epoch_settled:{pool_id}:{s.epoch}:{digest}",
                severity="info",
                pool_id=pool_id,
                epoch=s.epoch,
                data=data,
                timestamp=now(),
            )
        ]

    return build


def finalized_hook(pool_id: str, now: Callable[[], float]) -> FinalizedHook:
    def build(epochs: Sequence[int]) -> Sequence[OutboxEvent]:
        return [
            outbox_event(
                kind="epoch_finalized",
                event_id=f"epoch_finalized:{pool_id}:{epoch}",
                severity="info",
                pool_id=pool_id,
                epoch=epoch,
                data={"status": "final"},
                timestamp=now(),
            )
            for epoch in epochs
        ]

    return build


def reversed_hook(pool_id: str, now: Callable[[], float], reason: str) -> ReversedHook:
    def build(epochs: Sequence[int]) -> Sequence[OutboxEvent]:
        first, last = min(epochs), max(epochs)
        stamp = hashlib.sha256(f"{reason}:{now()}".encode()).hexdigest()[:12]
        return [
            outbox_event(
                kind="epochs_reversed",
                event_id=f"epochs_reversed:{pool_id}:{first}-{last}:{stamp}",
                severity="warning",
                pool_id=pool_id,
                epoch=first,
                data={"from_epoch": first, "to_epoch": last, "reason": reason},
                timestamp=now(),
            )
        ]

    return build


def committed_hook(pool_id: str, now: Callable[[], float]) -> CommittedHook:
    """``period_committed``: a final period's Merkle root (docs/commitments.md)."""

    def build(c: PeriodCommitment) -> Sequence[OutboxEvent]:
        return [
            outbox_event(
                kind="period_committed",
                event_id=f"period_committed:{pool_id}:{c.period_epochs}:{c.period}",
                severity="info",
                pool_id=pool_id,
                epoch=c.last_epoch,
                data={
                    "period": c.period,
                    "period_epochs": c.period_epochs,
                    "first_epoch": c.first_epoch,
                    "last_epoch": c.last_epoch,
                    "root": c.root,
                    "leaves": c.leaves,
                },
                timestamp=now(),
            )
        ]

    return build


def merged_event(
    pool_id: str, now: Callable[[], float], first: int, last: int, reason: str
) -> OutboxEvent:
    """The warning that epochs ``first..last`` were settled as one merged window."""
    return outbox_event(
        kind="ledger_window_merged",
        event_id=f"ledger_window_merged:{pool_id}:{first}-{last}",
        severity="warning",
        pool_id=pool_id,
        epoch=first,
        data={"from_epoch": first, "to_epoch": last, "reason": reason},
        timestamp=now(),
    )
