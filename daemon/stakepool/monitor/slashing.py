"""Slashing evidence and inclusion, and other key-compromise signals, de-duplicated (pure).

Who a slashing affects:

* attester slashing → ``attester_slashing_indices``: the sorted intersection of
  ``attestation_1.attesting_indices`` and ``attestation_2.attesting_indices`` (filtered to ours);
* proposer slashing → ``proposer_slashing_index``: ``signed_header_1.message.proposer_index``.

``SlashingWatch`` takes every source — SSE ``attester_slashing``/``proposer_slashing``, op-pool
polls, slashings in canonical blocks, the ``slashed`` flag of validator records — and keeps a
``SlashingStage`` per pool validator that only moves forward: evidence (SSE, pool) → included
(block, ``slashed`` flag) → finalized (``on_finalized``: the finalized epoch passed the inclusion
epoch). It yields, per validator:

* exactly **one critical** alert, at first sight, whatever the source: ``slashing_evidence`` when
  first seen before inclusion, ``validator_slashed`` when first seen included;
* ``slashing_stage`` (info) for each later stage reached; repeats from any source yield nothing.

It also flags ``voluntary_exit`` and ``bls_to_execution_change`` for pool validators that the
operator did not declare expected (``unexpected_exit``/``bls_change``, critical, once per
validator). ``state``/constructor ``state=`` round-trip for persistence across restarts.
Limitation: a reorg that drops an including block does not move a stage back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.operations import (
    AttesterSlashing,
    ProposerSlashing,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
)
from stakepool.beacon.models.state import ValidatorInfo
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.events import (
    MonitorEvent,
    OperationSource,
    SlashingEvidence,
    SlashingSource,
    SlashingStage,
    SlashingStageReached,
    UnexpectedBlsChange,
    UnexpectedExit,
    ValidatorSlashed,
)

ATTESTER = "attester"
PROPOSER = "proposer"
UNKNOWN = "unknown"


def attester_slashing_indices(
    slashing: AttesterSlashing, ours: Iterable[int] | None = None
) -> tuple[ValidatorIndex, ...]:
    both = set(slashing.attestation_1.attesting_indices) & set(
        slashing.attestation_2.attesting_indices
    )
    if ours is not None:
        both &= set(ours)
    return tuple(sorted(ValidatorIndex(v) for v in both))


def proposer_slashing_index(slashing: ProposerSlashing) -> ValidatorIndex:
    return slashing.signed_header_1.message.proposer_index


@dataclass(frozen=True, slots=True)
class SlashingRecord:
    validator_index: ValidatorIndex
    stage: SlashingStage
    first_seen_epoch: Epoch
    offence: str
    """``attester`` | ``proposer`` | ``unknown`` (only the ``slashed`` flag told us)."""
    included_epoch: Epoch | None = None


@dataclass(frozen=True, slots=True)
class WatchState:
    slashings: Mapping[ValidatorIndex, SlashingRecord]
    exits_alerted: frozenset[ValidatorIndex]
    bls_alerted: frozenset[ValidatorIndex]


class SlashingWatch:
    def __init__(
        self,
        ours: Iterable[int],
        *,
        slots_per_epoch: int,
        expected_exits: Iterable[int] = (),
        expected_bls_changes: Iterable[int] = (),
        state: WatchState | None = None,
    ) -> None:
        self._ours = frozenset(ValidatorIndex(v) for v in ours)
        self._spe = slots_per_epoch
        self._expected_exits = frozenset(expected_exits)
        self._expected_bls = frozenset(expected_bls_changes)
        self._records: dict[ValidatorIndex, SlashingRecord] = dict(state.slashings if state else {})
        self._exits: set[ValidatorIndex] = set(state.exits_alerted if state else ())
        self._bls: set[ValidatorIndex] = set(state.bls_alerted if state else ())

    @property
    def state(self) -> WatchState:
        return WatchState(dict(self._records), frozenset(self._exits), frozenset(self._bls))

    def stage(self, validator: int) -> SlashingStage | None:
        record = self._records.get(ValidatorIndex(validator))
        return None if record is None else record.stage

    def set_pool(
        self,
        ours: Iterable[int],
        expected_exits: Iterable[int] | None = None,
        expected_bls_changes: Iterable[int] | None = None,
    ) -> None:
        """The operator changed the pool or the declarations (history is kept)."""
        self._ours = frozenset(ValidatorIndex(v) for v in ours)
        if expected_exits is not None:
            self._expected_exits = frozenset(expected_exits)
        if expected_bls_changes is not None:
            self._expected_bls = frozenset(expected_bls_changes)

    # --- slashings -------------------------------------------------------------------------

    def on_attester_slashing(
        self, slashing: AttesterSlashing, source: SlashingSource, epoch: int
    ) -> list[MonitorEvent]:
        """SSE or pool (evidence), or block (included, prefer ``on_block``) at ``epoch``."""
        events: list[MonitorEvent] = []
        for v in attester_slashing_indices(slashing, self._ours):
            events.extend(self._advance(v, _stage_of(source), source, Epoch(epoch), ATTESTER))
        return events

    def on_proposer_slashing(
        self, slashing: ProposerSlashing, source: SlashingSource, epoch: int
    ) -> list[MonitorEvent]:
        v = proposer_slashing_index(slashing)
        if v not in self._ours:
            return []
        return self._advance(v, _stage_of(source), source, Epoch(epoch), PROPOSER)

    def on_validator(self, info: ValidatorInfo, epoch: int) -> list[MonitorEvent]:
        """A validator record read from the state at ``epoch``."""
        if info.index not in self._ours or not info.validator.slashed:
            return []
        return self._advance(
            info.index, SlashingStage.INCLUDED, SlashingSource.STATE, Epoch(epoch), UNKNOWN
        )

    def on_finalized(self, finalized_epoch: int) -> list[MonitorEvent]:
        """Inclusions in epochs before the finalized checkpoint's are final."""
        events: list[MonitorEvent] = []
        for v in sorted(self._records):
            r = self._records[v]
            if (
                r.stage is SlashingStage.INCLUDED
                and r.included_epoch is not None
                and r.included_epoch < finalized_epoch
            ):
                events.extend(
                    self._advance(
                        v, SlashingStage.FINALIZED, SlashingSource.STATE, Epoch(finalized_epoch), ""
                    )
                )
        return events

    # --- blocks and operations -------------------------------------------------------------

    def on_block(self, block: SignedBeaconBlock) -> list[MonitorEvent]:
        """A canonical block: slashings in it are included; exits and BLS changes are checked."""
        body = block.message.body
        epoch = Epoch(block.slot // self._spe)
        events: list[MonitorEvent] = []
        for s in body.attester_slashings:
            events.extend(self.on_attester_slashing(s, SlashingSource.BLOCK, epoch))
        for p in body.proposer_slashings:
            events.extend(self.on_proposer_slashing(p, SlashingSource.BLOCK, epoch))
        for x in body.voluntary_exits:
            events.extend(self.on_voluntary_exit(x, OperationSource.BLOCK))
        for c in body.bls_to_execution_changes:
            events.extend(self.on_bls_change(c, OperationSource.BLOCK, epoch))
        return events

    def on_voluntary_exit(
        self, exit_: SignedVoluntaryExit, source: OperationSource
    ) -> list[MonitorEvent]:
        v = exit_.message.validator_index
        if v not in self._ours or v in self._expected_exits or v in self._exits:
            return []
        self._exits.add(v)
        return [UnexpectedExit(validator_index=v, epoch=exit_.message.epoch, source=source)]

    def on_bls_change(
        self, change: SignedBLSToExecutionChange, source: OperationSource, epoch: int
    ) -> list[MonitorEvent]:
        v = change.message.validator_index
        if v not in self._ours or v in self._expected_bls or v in self._bls:
            return []
        self._bls.add(v)
        return [
            UnexpectedBlsChange(
                validator_index=v,
                epoch=Epoch(epoch),
                to_execution_address=change.message.to_execution_address,
                source=source,
            )
        ]

    # --- the state machine -----------------------------------------------------------------

    def _advance(
        self,
        v: ValidatorIndex,
        stage: SlashingStage,
        source: SlashingSource,
        epoch: Epoch,
        offence: str,
    ) -> list[MonitorEvent]:
        included = epoch if stage is SlashingStage.INCLUDED else None
        old = self._records.get(v)
        if old is None:
            self._records[v] = SlashingRecord(v, stage, epoch, offence, included)
            alert = SlashingEvidence if stage is SlashingStage.EVIDENCE else ValidatorSlashed
            return [alert(validator_index=v, epoch=epoch, source=source, offence=offence)]
        if old.offence == UNKNOWN and offence not in (UNKNOWN, ""):
            old = replace(old, offence=offence)  # the block tells what the flag did not
            self._records[v] = old
        if stage <= old.stage:
            return []
        self._records[v] = replace(
            old, stage=stage, included_epoch=old.included_epoch if included is None else included
        )
        return [SlashingStageReached(validator_index=v, epoch=epoch, stage=stage, source=source)]


def _stage_of(source: SlashingSource) -> SlashingStage:
    if source in (SlashingSource.SSE, SlashingSource.POOL):
        return SlashingStage.EVIDENCE
    return SlashingStage.INCLUDED
