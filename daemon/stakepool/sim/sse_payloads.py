"""SSE payloads of one slot, in the order a node emits them."""

from __future__ import annotations

from typing import Any

from stakepool.sim import ids
from stakepool.sim.records import BlockRecord
from stakepool.sim.state import BeaconState, PoolOperation

Event = tuple[str, dict[str, Any]]


def slot_events(
    s: BeaconState,
    *,
    epoch: int,
    record: BlockRecord | None,
    reorg: tuple[BlockRecord, BeaconState] | None,
    epoch_transition: bool,
    finalized_changed: bool,
    finalized_state_root: str | None,
    dependent_roots: tuple[str, str],
    announced: list[PoolOperation],
) -> list[Event]:
    """chain_reorg, block, head, finalized_checkpoint, then newly seen pool operations."""
    slot = s.slot
    events: list[Event] = []
    optimistic = {"execution_optimistic": False}
    if reorg is not None:
        orphan, old_head = reorg
        events.append(
            (
                "chain_reorg",
                {
                    "slot": str(slot),
                    "depth": str(slot - orphan.slot),
                    "old_head_block": orphan.root,
                    "new_head_block": s.latest_block_root,
                    "old_head_state": old_head.state_root,
                    "new_head_state": s.state_root,
                    "epoch": str(epoch),
                    **optimistic,
                },
            )
        )
    if record is not None:
        events.append(("block", {"slot": str(slot), "block": record.root, **optimistic}))
    if record is not None or reorg is not None:
        events.append(
            (
                "head",
                {
                    "slot": str(slot),
                    "block": s.latest_block_root,
                    "state": s.state_root,
                    "epoch_transition": epoch_transition,
                    "previous_duty_dependent_root": dependent_roots[0],
                    "current_duty_dependent_root": dependent_roots[1],
                    **optimistic,
                },
            )
        )
    if finalized_changed:
        fin = s.finalized
        events.append(
            (
                "finalized_checkpoint",
                {
                    "block": fin.root,
                    "state": finalized_state_root or ids.digest("state-of", fin.root),
                    "epoch": str(fin.epoch),
                    **optimistic,
                },
            )
        )
    for op in announced:
        topic = op.kind if op.kind == "voluntary_exit" else f"{op.kind}_slashing"
        events.append((topic, op.body))
    return events
