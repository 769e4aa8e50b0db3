"""``ChainHistory``: the past a ``SimChain`` can still serve (states, blocks, roots, per-epoch
records) and the pruning that keeps it inside the configured memory budget.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stakepool.sim.epoch import EpochOutcome
from stakepool.sim.params import SimParams
from stakepool.sim.records import BlockRecord
from stakepool.sim.rewards import EpochRewardInputs
from stakepool.sim.state import BeaconState

ZERO_ROOT = "0x" + "00" * 32


class ChainHistory:
    def __init__(
        self, params: SimParams, *, validators: int, history_epochs: int, budget_bytes: int
    ) -> None:
        self.params = params
        self.history_epochs = history_epochs
        self.history_slots = max(
            2,
            min(
                history_epochs * params.slots_per_epoch,
                budget_bytes // max(1, 10 * validators),
            ),
        )
        self._states: dict[int, BeaconState] = {}
        self._slot_of_state_root: dict[str, int] = {}
        self._blocks: dict[str, BlockRecord] = {}
        self._blocks_at_slot: dict[int, list[str]] = {}
        self._canonical: dict[int, str] = {}
        self._root_at_slot: dict[int, str] = {}
        self._reward_inputs: dict[int, EpochRewardInputs] = {}
        self._epoch_outcomes: dict[int, EpochOutcome] = {}
        self._proposers: dict[int, npt.NDArray[np.int64]] = {}
        self._sync_committees: dict[int, npt.NDArray[np.int64]] = {}

    # --- reading ------------------------------------------------------------------------------

    def state_at_slot(self, slot: int, head: BeaconState) -> BeaconState | None:
        if slot > head.slot:
            return None
        return self._states.get(slot)

    def state(self, state_id: str, head: BeaconState) -> BeaconState | None:
        """Resolve a Beacon API ``state_id``; ``None`` if unknown or pruned.

        Raises ``ValueError`` for a malformed id.
        """
        if state_id == "head":
            return head
        if state_id == "genesis":
            return self._states.get(0)
        if state_id == "finalized":
            return self.state_at_slot(self.params.start_slot(head.finalized.epoch), head)
        if state_id == "justified":
            return self.state_at_slot(self.params.start_slot(head.current_justified.epoch), head)
        if state_id.isdigit():
            return self.state_at_slot(int(state_id), head)
        if state_id.startswith("0x") and len(state_id) == 66:
            slot = self._slot_of_state_root.get(state_id.lower())
            return None if slot is None else self._states.get(slot)
        raise ValueError(f"Invalid state ID: {state_id}")

    def block(self, block_id: str, head: BeaconState) -> BlockRecord | None:
        """Resolve a Beacon API ``block_id``; raises ``ValueError`` if malformed."""
        if block_id == "head":
            return self._blocks.get(head.latest_block_root)
        if block_id == "genesis":
            return self._blocks.get(self._canonical.get(0, ""))
        if block_id == "finalized":
            fin_root = head.finalized.root
            if fin_root == ZERO_ROOT:
                return self._blocks.get(self._canonical.get(0, ""))
            return self._blocks.get(fin_root)
        if block_id.isdigit():
            root = self._canonical.get(int(block_id))
            return None if root is None else self._blocks.get(root)
        if block_id.startswith("0x") and len(block_id) == 66:
            return self._blocks.get(block_id.lower())
        raise ValueError(f"Invalid block ID: {block_id}")

    def blocks_at_slot(self, slot: int) -> list[BlockRecord]:
        return [self._blocks[r] for r in self._blocks_at_slot.get(slot, []) if r in self._blocks]

    def root_at_slot(self, slot: int) -> str:
        """Root of the latest canonical block at or before ``slot``."""
        return self._root_at_slot.get(slot, ZERO_ROOT)

    def reward_inputs(self, epoch: int) -> EpochRewardInputs | None:
        return self._reward_inputs.get(epoch)

    def epoch_outcome(self, epoch: int) -> EpochOutcome | None:
        return self._epoch_outcomes.get(epoch)

    def proposers(self, epoch: int) -> npt.NDArray[np.int64] | None:
        return self._proposers.get(epoch)

    def sync_committee(self, period: int) -> npt.NDArray[np.int64] | None:
        return self._sync_committees.get(period)

    # --- writing ------------------------------------------------------------------------------

    def store_block(self, record: BlockRecord) -> None:
        self._blocks[record.root] = record
        self._blocks_at_slot.setdefault(record.slot, []).append(record.root)
        if record.canonical:
            self._canonical[record.slot] = record.root

    def store_state(self, s: BeaconState) -> None:
        # A replaced state (the orphaned branch's) must stop resolving by its root.
        old = self._states.get(s.slot)
        if old is not None:
            self._slot_of_state_root.pop(old.state_root, None)
        self._states[s.slot] = s
        self._slot_of_state_root[s.state_root] = s.slot

    def set_root_at_slot(self, slot: int, root: str) -> None:
        self._root_at_slot[slot] = root

    def orphan(self, record: BlockRecord, canonical: BeaconState) -> None:
        """Demote ``record`` and make ``canonical`` (its slot without it) the state served."""
        record.canonical = False
        self._canonical.pop(record.slot, None)
        self._root_at_slot[record.slot] = canonical.latest_block_root
        self.store_state(canonical)

    def store_epoch_outcome(self, outcome: EpochOutcome) -> None:
        self._epoch_outcomes[outcome.epoch] = outcome
        if outcome.reward_inputs is not None:
            self._reward_inputs[outcome.reward_inputs.epoch] = outcome.reward_inputs

    def set_proposers(self, epoch: int, proposers: npt.NDArray[np.int64]) -> None:
        self._proposers[epoch] = proposers

    def set_sync_committee(self, period: int, members: npt.NDArray[np.int64]) -> None:
        self._sync_committees[period] = members

    def prune(self, head: BeaconState) -> None:
        p = self.params
        keep_epochs_from = head.slot - self.history_epochs * p.slots_per_epoch
        # Checkpoint states stay servable as ``finalized`` / ``justified`` on big networks too.
        checkpoints = {
            p.start_slot(cp.epoch)
            for cp in (head.finalized, head.current_justified, head.previous_justified)
        }
        for slot in [sl for sl in self._states if sl < head.slot - self.history_slots]:
            # First and last slot of recent epochs: checkpoints and settlement points.
            boundary = slot % p.slots_per_epoch in (0, p.slots_per_epoch - 1)
            if slot == 0 or slot in checkpoints or (boundary and slot >= keep_epochs_from):
                continue
            self._slot_of_state_root.pop(self._states.pop(slot).state_root, None)
        for slot in [sl for sl in self._blocks_at_slot if 0 < sl < keep_epochs_from]:
            for root in self._blocks_at_slot.pop(slot):
                self._blocks.pop(root, None)
            self._canonical.pop(slot, None)
        oldest_root = keep_epochs_from - 4096 * p.slots_per_epoch
        for slot in [sl for sl in self._root_at_slot if 0 < sl < oldest_root]:
            del self._root_at_slot[slot]
        oldest_epoch = p.epoch_of(keep_epochs_from) - 1
        for d in (self._reward_inputs, self._epoch_outcomes):
            for e in [e for e in d if e < oldest_epoch]:
                del d[e]
        # Proposer schedules are tiny; keep them long so past duties stay answerable.
        for e in [e for e in self._proposers if e < oldest_epoch - 4096]:
            del self._proposers[e]
