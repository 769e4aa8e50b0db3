"""``SimChain``: the simulated chain in memory. No asyncio and no clock: time moves only when
``advance_slot()`` is called, and each call returns what happened (block, events).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.block import produce_block
from stakepool.sim.block_json import genesis_block
from stakepool.sim.epoch import EpochOutcome, process_epoch
from stakepool.sim.genesis import genesis_state
from stakepool.sim.history import ChainHistory
from stakepool.sim.operations import slashing_evidence, voluntary_exit
from stakepool.sim.params import SimParams
from stakepool.sim.presets import spec_for
from stakepool.sim.records import BlockRecord
from stakepool.sim.rewards import EpochRewardInputs
from stakepool.sim.scenario import SimScenario
from stakepool.sim.shuffling import (
    EpochCommittees,
    compute_committees,
)
from stakepool.sim.sse_payloads import Event, slot_events
from stakepool.sim.state import BeaconState, PendingAggregate, PoolOperation
from stakepool.sim.votes import cast_votes

_COMMITTEE_CACHE = 4
Listener = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class SimConfig:
    validators: int = 256
    preset: str = "minimal"
    slot_duration_ms: int | None = None
    """``None`` keeps the preset's slot duration."""
    seed: int = 1
    genesis_time: int | None = None
    """Unix seconds; ``None`` = now (rounded down)."""
    scenario: SimScenario = field(default_factory=SimScenario)
    spec: Mapping[str, str] | None = None
    """A full spec dictionary instead of ``preset`` (tests build odd networks this way)."""
    history_epochs: int = 8
    """Epoch-boundary states (first and last slot), blocks and reward inputs kept this long."""
    history_budget_bytes: int = 512 * 2**20
    """Rough memory allowed for per-slot states (each costs ~10 bytes per validator)."""


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    slot: int
    block: BlockRecord | None
    events: tuple[Event, ...]
    epoch: EpochOutcome | None


class SimChain:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        c = self.config
        self.spec: dict[str, str] = (
            dict(c.spec) if c.spec is not None else spec_for(c.preset, c.slot_duration_ms)
        )
        self.params = SimParams.from_spec(self.spec)
        self.scenario = c.scenario
        self.seed = c.seed
        self.genesis_time = int(time.time()) if c.genesis_time is None else c.genesis_time
        self.genesis_validators_root = ids.digest("genesis-validators", c.seed, c.validators)
        self.genesis_fork_version = self.spec["GENESIS_FORK_VERSION"]
        self._history = ChainHistory(
            self.params,
            validators=c.validators + c.scenario.new_validators(c.validators),
            history_epochs=c.history_epochs,
            budget_bytes=c.history_budget_bytes,
        )
        self._listeners: list[Listener] = []
        self._committees: dict[int, EpochCommittees] = {}
        self._masks: dict[int, tuple[Any, ...]] = {}
        self._pending_orphan: tuple[BlockRecord, BeaconState] | None = None
        self._genesis()

    @staticmethod
    def slots_per_epoch_of(config: SimConfig) -> int:
        spec = config.spec if config.spec is not None else spec_for(config.preset)
        return int(spec["SLOTS_PER_EPOCH"])

    # --- construction -----------------------------------------------------------------------

    def _genesis(self) -> None:
        p, c = self.params, self.config
        s = genesis_state(p, validators=c.validators, seed=c.seed, scenario=self.scenario)
        record = genesis_block(self, s)
        h = self._history
        h.store_block(record)
        h.set_root_at_slot(0, record.root)
        h.set_proposers(0, s.proposer_lookahead[: p.slots_per_epoch])
        h.set_proposers(1, s.proposer_lookahead[p.slots_per_epoch :])
        h.set_sync_committee(0, s.current_sync_committee)
        h.set_sync_committee(1, s.next_sync_committee)
        self._head = s
        s.attestation_pool = self._votes(s, record.root, record.root)
        h.store_state(s)

    # --- listeners (the servers' SSE broadcasters) --------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- the view block production needs ------------------------------------------------------

    def committees(self, epoch: int) -> EpochCommittees:
        # A few recently used epochs only: each costs ~16 bytes per validator and a recompute
        # is cheap (one permutation), so old duty queries just recompute.
        cached = self._committees.pop(epoch, None)
        if cached is None:
            s = self._head
            cached = compute_committees(
                self.params, self.seed, epoch, s.activation_epoch, s.exit_epoch
            )
        self._committees[epoch] = cached
        while len(self._committees) > _COMMITTEE_CACHE:
            del self._committees[next(iter(self._committees))]
        return cached

    def block_root_at_slot(self, slot: int) -> str:
        """Root of the latest canonical block at or before ``slot``."""
        return self._history.root_at_slot(slot)

    def block_root_at_epoch(self, epoch: int) -> str:
        return self.block_root_at_slot(self.params.start_slot(epoch))

    def _epoch_masks(self, epoch: int) -> tuple[Any, ...]:
        masks = self._masks.get(epoch)
        if masks is None:
            n, sc = self._head.n, self.scenario  # the arrays' length: new validators included
            masks = (
                sc.offline_mask(n, epoch),
                sc.sync_offline_mask(n, epoch),
                sc.late_delay(n, epoch),
                sc.wrong_kind(n, epoch),
            )
            self._masks[epoch] = masks
            for old in [e for e in self._masks if e < epoch - 2]:
                del self._masks[old]
        return masks

    def offline(self, epoch: int) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self._epoch_masks(epoch)[0]
        return mask

    def sync_offline(self, epoch: int) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self._epoch_masks(epoch)[1]
        return mask

    # --- reading ------------------------------------------------------------------------------

    @property
    def head(self) -> BeaconState:
        return self._head

    @property
    def head_slot(self) -> int:
        return self._head.slot

    @property
    def head_epoch(self) -> int:
        return self.params.epoch_of(self._head.slot)

    @property
    def validator_count(self) -> int:
        """Validators in the head's registry (deposited new ones included)."""
        return self._head.visible

    @property
    def history_slots(self) -> int:
        return self._history.history_slots

    def state_at_slot(self, slot: int) -> BeaconState | None:
        return self._history.state_at_slot(slot, self._head)

    def state(self, state_id: str) -> BeaconState | None:
        """Resolve a Beacon API ``state_id``; ``None`` if unknown or pruned.

        Raises ``ValueError`` for a malformed id.
        """
        return self._history.state(state_id, self._head)

    def block(self, block_id: str) -> BlockRecord | None:
        """Resolve a Beacon API ``block_id``; raises ``ValueError`` if malformed."""
        return self._history.block(block_id, self._head)

    def blocks_at_slot(self, slot: int) -> list[BlockRecord]:
        return self._history.blocks_at_slot(slot)

    def is_finalized_slot(self, slot: int) -> bool:
        return slot <= self.params.start_slot(self._head.finalized.epoch) and (
            self._head.finalized.epoch > 0 or slot == 0
        )

    def reward_inputs(self, epoch: int) -> EpochRewardInputs | None:
        return self._history.reward_inputs(epoch)

    def epoch_outcome(self, epoch: int) -> EpochOutcome | None:
        """What the transition at the end of ``epoch`` did (correlation penalties, deposits…)."""
        return self._history.epoch_outcome(epoch)

    def proposers(self, epoch: int) -> npt.NDArray[np.int64] | None:
        return self._history.proposers(epoch)

    def sync_committee(self, epoch: int) -> npt.NDArray[np.int64] | None:
        return self._history.sync_committee(self.params.period_of(epoch))

    def operation_pool(self, kind: str | None = None) -> tuple[PoolOperation, ...]:
        """Operations seen but not yet included (``kind``: attester, proposer, voluntary_exit)."""
        ops = self._head.operation_pool
        return ops if kind is None else tuple(op for op in ops if op.kind == kind)

    def slashing_pool(self) -> tuple[PoolOperation, ...]:
        return tuple(op for op in self._head.operation_pool if op.kind != "voluntary_exit")

    def dependent_root(self, epoch: int) -> str:
        """Block root at the last slot of ``epoch − 1`` (genesis block before epoch 1)."""
        slot = self.params.start_slot(epoch) - 1
        return self.block_root_at_slot(max(slot, 0))

    def live(self, epoch: int, indices: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Seen attesting (or proposing) in ``epoch`` as of the head."""
        p = self.params
        valid, slot_in_epoch, _, _, _ = self.committees(epoch).duties(indices)
        duty_slot = p.start_slot(epoch) + slot_in_epoch
        seen: npt.NDArray[np.bool_] = (
            (valid == 1) & (duty_slot <= self._head.slot) & ~self.offline(epoch)[indices]
        )
        # From slot 1: the genesis block's proposer field (0) is nobody's signature.
        proposers = {
            b.proposer_index
            for slot in range(max(p.start_slot(epoch), 1), p.last_slot(epoch) + 1)
            for b in self.blocks_at_slot(slot)
        }
        if proposers:
            seen |= np.isin(indices, np.fromiter(proposers, dtype=np.int64))
        return seen

    # --- writing ------------------------------------------------------------------------------

    def _votes(
        self, s: BeaconState, head_root: str, target_root: str
    ) -> tuple[PendingAggregate, ...]:
        p = self.params
        epoch = p.epoch_of(s.slot)
        offline, _, delay, wrong = self._epoch_masks(epoch)
        return cast_votes(
            p,
            slot=s.slot,
            members=self.committees(epoch).slot_members(s.slot % p.slots_per_epoch),
            offline=offline,
            delay=delay,
            wrong=wrong,
            head_root=head_root,
            target_root=target_root,
            source=s.current_justified,
        )

    def _emit(self, events: list[Event]) -> None:
        for topic, data in events:
            for listener in list(self._listeners):
                listener(topic, data)

    def advance_to(self, slot: int) -> list[SlotOutcome]:
        out = []
        while self._head.slot < slot:
            out.append(self.advance_slot())
        return out

    def advance_epochs(self, epochs: int) -> list[SlotOutcome]:
        return self.advance_to(self._head.slot + epochs * self.params.slots_per_epoch)

    def advance_slot(self) -> SlotOutcome:
        p = self.params
        sc = self.scenario
        head = self._head
        reorg: tuple[BlockRecord, BeaconState] | None = None
        if self._pending_orphan is not None:
            orphan, canonical = self._pending_orphan
            self._pending_orphan = None
            self._history.orphan(orphan, canonical)
            reorg = (orphan, head)
            head = canonical

        slot = head.slot + 1
        epoch = p.epoch_of(slot)
        outcome: EpochOutcome | None = None
        s = head
        if slot % p.slots_per_epoch == 0:
            s, outcome = process_epoch(
                p,
                head,
                seed=self.seed,
                stalled=sc.stalled(epoch - 1),
                block_root_at_epoch=self.block_root_at_epoch,
            )
            self._history.store_epoch_outcome(outcome)
            self._history.set_proposers(epoch + 1, s.proposer_lookahead[p.slots_per_epoch :])
            period = p.period_of(epoch)
            self._history.set_sync_committee(period, s.current_sync_committee)
            self._history.set_sync_committee(period + 1, s.next_sync_committee)
        s = s.copy()
        s.slot = slot

        proposer = int(s.proposer_lookahead[slot % p.slots_per_epoch])
        publishes = (
            slot not in sc.missed_slots
            and not bool(self.offline(epoch)[proposer])
            and not bool(s.slashed[proposer])
        )
        record: BlockRecord | None = None
        pre = s
        orphaning = publishes and slot in sc.orphaned_slots
        if publishes:
            s, record = produce_block(self, pre, proposer, branch="orphan" if orphaning else "")
            self._history.store_block(record)
            self._history.set_root_at_slot(slot, record.root)
        else:
            s.state_root = ids.digest("state", slot, s.latest_block_root, "empty")
            self._history.set_root_at_slot(slot, s.latest_block_root)

        # Votes of this slot. Voters of a block that will be orphaned saw it too late and
        # voted for its parent, which is why the next proposer builds on the parent.
        vote_head = pre.latest_block_root if orphaning else s.latest_block_root
        start = p.start_slot(epoch)
        target_root = vote_head if slot == start else self.block_root_at_slot(start)
        votes = self._votes(s, vote_head, target_root)
        s.attestation_pool = (*s.attestation_pool, *votes)
        announced = [
            slashing_evidence(
                p,
                kind=sch.kind,
                validators=sch.validators,
                slot=max(0, slot - 1),
                include_slot=sch.include_slot,
                parent_root=pre.latest_block_root,
            )
            for sch in sc.slashings
            if sch.announce_slot == slot
        ] + [
            voluntary_exit(p, ex.validator, slot, ex.include_slot)
            for ex in sc.exits
            if ex.announce_slot == slot
        ]
        s.operation_pool = (*s.operation_pool, *announced)
        if orphaning and record is not None:
            canonical = pre.copy()
            canonical.state_root = ids.digest("state", slot, pre.latest_block_root, "empty")
            canonical.attestation_pool = (*pre.attestation_pool, *votes)
            canonical.operation_pool = (*pre.operation_pool, *announced)
            self._pending_orphan = (record, canonical)

        self._history.store_state(s)
        self._head = s
        self._history.prune(s)

        fin_state = self.state_at_slot(p.start_slot(s.finalized.epoch))
        events = slot_events(
            s,
            epoch=epoch,
            record=record,
            reorg=reorg,
            epoch_transition=outcome is not None,
            finalized_changed=outcome is not None and outcome.finalized_changed,
            finalized_state_root=None if fin_state is None else fin_state.state_root,
            dependent_roots=(self.dependent_root(max(epoch - 1, 0)), self.dependent_root(epoch)),
            announced=announced,
        )
        self._emit(events)
        return SlotOutcome(slot, record, tuple(events), outcome)
