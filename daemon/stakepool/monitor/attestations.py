"""Attester duty outcomes from on-chain inclusion in canonical blocks (pure).

Inputs, for one duty epoch ``N``:

* ``duties``: ``AttesterDutyRef`` per pool validator (``duty_refs`` converts the API's
  ``AttesterDuty``): slot, committee index, committee length and the validator's bit position in
  its committee — enough to find its bit without downloading committees;
* ``blocks``: ``InclusionBlock`` (slot + attestations; ``inclusion_block`` converts a
  ``SignedBeaconBlock``) for the canonical blocks of slots ``(first duty slot, LAST(N+1)]``.
  Blocks outside a duty's window ``(slot, LAST(N+1)]`` are ignored for that duty;
* ``chain``: ``CanonicalChain``, canonical block roots by slot, to judge head and target votes;
* ``justified``: the checkpoint a correct source vote names (the current justified checkpoint of
  the state during epoch ``N``);
* ``committee_lengths``: ``(slot, committee_index) → length``. Electra aggregates concatenate the
  bits of every committee selected by ``committee_bits``, in ascending committee index, so finding
  our bit needs the lengths of the selected committees before ours. Duties give the lengths of our
  committees (``committee_lengths_from_duties``); ``committee_lengths_from_committees`` takes the
  committees endpoint's answer for the rest. When exactly one selected length is unknown it is
  inferred from the aggregate's total length; otherwise ``CommitteeLengthUnknown`` is raised.
  ``slots_needing_committees`` says beforehand which slots' committees to fetch (none, usually,
  for a large pool: its validators sit in most committees).

``decode_aggregate`` locates committees in one aggregate and reads single bits
(``DecodedAggregate.signed``) without expanding ~60,000-bit mainnet aggregates into lists.

Output: one ``AttestationOutcome`` per duty. A validator may be included several times (several
aggregates or blocks): the inclusion slot and delay are the earliest, the flags are the union over
all inclusions, as ``process_attestation`` sets them (Deneb/Electra rules: source timely iff the
source matches and delay ≤ isqrt(SLOTS_PER_EPOCH); target iff source and target match, any delay
in the window; head iff all three match and delay == 1). A ``missed`` outcome is only final once
the blocks up to ``LAST(N+1)`` were supplied: the caller decides when to evaluate.

``monitor.streaks.MissedStreaks`` turns outcomes into ``attestation_missed``/``attestation_streak``/
``attestation_recovered`` events, idempotently per (validator, epoch).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.duties import AttesterDuty
from stakepool.beacon.models.operations import Attestation
from stakepool.beacon.models.state import Checkpoint, Committee
from stakepool.chain.bitfields import BitfieldError, bitlist_length, decode_bitvector
from stakepool.chain.types import CommitteeIndex, Epoch, Root, Slot, ValidatorIndex

MIN_ATTESTATION_INCLUSION_DELAY = 1
"""A protocol constant (phase0 ``MIN_ATTESTATION_INCLUSION_DELAY``), not configuration."""


class AttestationDecodeError(ValueError):
    """An on-chain aggregate that cannot be decoded with the data supplied."""


class CommitteeLengthUnknown(AttestationDecodeError):
    def __init__(self, slot: int, committee_index: int) -> None:
        super().__init__(
            f"committee {committee_index} at slot {slot} is selected by an aggregate but its "
            "length is unknown: fetch the slot's committees"
        )
        self.slot = slot
        self.committee_index = committee_index


class ChainRootUnknown(ValueError):
    """A root was asked for a slot the supplied ``CanonicalChain`` does not cover."""


@dataclass(frozen=True, slots=True)
class AttesterDutyRef:
    validator_index: ValidatorIndex
    slot: Slot
    committee_index: CommitteeIndex
    committee_length: int
    position: int
    """The validator's bit position in its committee (``validator_committee_index``)."""


def duty_refs(duties: Iterable[AttesterDuty]) -> list[AttesterDutyRef]:
    return [
        AttesterDutyRef(
            d.validator_index,
            d.slot,
            d.committee_index,
            d.committee_length,
            d.validator_committee_index,
        )
        for d in duties
    ]


def committee_lengths_from_duties(duties: Iterable[AttesterDutyRef]) -> dict[tuple[int, int], int]:
    return {(d.slot, d.committee_index): d.committee_length for d in duties}


def committee_lengths_from_committees(
    committees: Iterable[Committee],
) -> dict[tuple[int, int], int]:
    return {(c.slot, c.index): len(c.validators) for c in committees}


@dataclass(frozen=True, slots=True)
class InclusionBlock:
    slot: Slot
    attestations: tuple[Attestation, ...]


def inclusion_block(block: SignedBeaconBlock) -> InclusionBlock:
    return InclusionBlock(block.slot, block.message.body.attestations)


@dataclass(frozen=True, slots=True)
class CanonicalChain:
    """Canonical block roots by slot.

    ``roots`` must hold every canonical block at slots ≥ ``complete_from`` plus the last canonical
    block before ``complete_from``, so an empty slot resolves to the last block before it.
    """

    roots: Mapping[int, Root]
    complete_from: Slot
    _sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sorted", tuple(sorted(self.roots)))  # frozen: set once

    def root_at(self, slot: int) -> Root:
        """The root of the block at ``slot``, or of the last block before it if it is empty."""
        if slot < self.complete_from:
            raise ChainRootUnknown(f"slot {slot} is before the chain data ({self.complete_from})")
        slots = self._sorted
        i = bisect.bisect_right(slots, slot)
        if i == 0:
            raise ChainRootUnknown(f"no canonical block known at or before slot {slot}")
        return self.roots[slots[i - 1]]


@dataclass(frozen=True, slots=True)
class AttestationOutcome:
    validator_index: ValidatorIndex
    epoch: Epoch
    slot: Slot
    committee_index: CommitteeIndex
    inclusion_slot: Slot | None
    """Earliest canonical inclusion; None when missed."""
    correct_source: bool
    correct_target: bool
    correct_head: bool
    timely_source: bool
    timely_target: bool
    timely_head: bool

    @property
    def included(self) -> bool:
        return self.inclusion_slot is not None

    @property
    def inclusion_delay(self) -> int | None:
        return None if self.inclusion_slot is None else self.inclusion_slot - self.slot


def selected_committees(att: Attestation, max_committees_per_slot: int) -> list[CommitteeIndex]:
    """Committees an aggregate covers, ascending: ``committee_bits`` (Electra) or ``data.index``."""
    if att.committee_bits is None:
        return [att.data.index]
    try:
        bits = decode_bitvector(att.committee_bits, max_committees_per_slot)
    except BitfieldError as exc:
        raise AttestationDecodeError(f"committee_bits: {exc}") from exc
    return [CommitteeIndex(i) for i, on in enumerate(bits) if on]


@dataclass(frozen=True, slots=True)
class DecodedAggregate:
    """Where each needed committee sits in an aggregate's bits; reads bits without a bool list.

    At mainnet scale an aggregate carries ~60,000 bits and a pool reads a few of them: indexing the
    bytes is much cheaper than materialising every bit.
    """

    raw: bytes
    length: int
    """Data bits (the bitlist delimiter excluded)."""
    spans: Mapping[CommitteeIndex, tuple[int, int]]
    """Committee → (offset, length) within the bits, for the committees asked for."""

    def signed(self, committee: int, position: int) -> bool:
        offset, n = self.spans[CommitteeIndex(committee)]
        if not 0 <= position < n:
            return False
        i = offset + position
        return (self.raw[i >> 3] >> (i & 7)) & 1 == 1

    def bits(self, committee: int) -> list[bool]:
        _, n = self.spans[CommitteeIndex(committee)]
        return [self.signed(committee, p) for p in range(n)]


def decode_aggregate(
    att: Attestation,
    committee_lengths: Mapping[tuple[int, int], int],
    needed: Iterable[int],
    max_committees_per_slot: int = 64,
) -> DecodedAggregate:
    """Locate each ``needed`` committee the aggregate covers (others are left out of ``spans``).

    Lengths are only required for selected committees up to the last needed one; a single unknown
    length is inferred from the aggregate's total. Raises ``CommitteeLengthUnknown`` or
    ``AttestationDecodeError`` (inconsistent lengths, garbled bits).
    """
    slot = att.data.slot
    try:
        total = bitlist_length(att.aggregation_bits)
    except BitfieldError as exc:
        raise AttestationDecodeError(f"aggregation_bits: {exc}") from exc
    raw = bytes.fromhex(att.aggregation_bits[2:])
    selected = selected_committees(att, max_committees_per_slot)
    wanted = set(needed) & set(selected)
    lengths: dict[int, int | None] = {c: committee_lengths.get((slot, c)) for c in selected}
    if att.committee_bits is None and lengths[selected[0]] is None:
        lengths[selected[0]] = total  # pre-Electra: the bitlist covers exactly one committee
    unknown = [c for c, n in lengths.items() if n is None]
    if len(unknown) == 1:
        known_total = sum(n for n in lengths.values() if n is not None)
        if known_total > total:
            raise AttestationDecodeError(
                f"aggregate at slot {slot} has {total} bits, fewer than its known committees"
            )
        lengths[unknown[0]] = total - known_total
    spans: dict[CommitteeIndex, tuple[int, int]] = {}
    offset = 0
    for c in selected:
        if len(spans) == len(wanted):
            break  # later committees do not move our bits: their lengths are not needed
        n = lengths[c]
        if n is None:
            raise CommitteeLengthUnknown(slot, c)
        if c in wanted:
            if offset + n > total:
                raise AttestationDecodeError(
                    f"aggregate at slot {slot} is shorter than committee {c} needs"
                )
            spans[CommitteeIndex(c)] = (offset, n)
        offset += n
    if None not in lengths.values() and sum(n or 0 for n in lengths.values()) != total:
        raise AttestationDecodeError(
            f"aggregate at slot {slot} has {total} bits but its committees hold "
            f"{sum(n or 0 for n in lengths.values())}"
        )
    return DecodedAggregate(raw, total, spans)


def committee_slices(
    att: Attestation,
    committee_lengths: Mapping[tuple[int, int], int],
    needed: Iterable[int],
    max_committees_per_slot: int = 64,
) -> dict[CommitteeIndex, list[bool]]:
    """``decode_aggregate`` as committee → its bits (for tests and small inputs)."""
    decoded = decode_aggregate(att, committee_lengths, needed, max_committees_per_slot)
    return {c: decoded.bits(c) for c in decoded.spans}


@dataclass(slots=True)
class _Best:
    inclusion_slot: Slot
    source: bool
    target: bool
    head: bool
    timely_source: bool = False
    timely_target: bool = False
    timely_head: bool = False


def evaluate_attestations(
    epoch: int,
    duties: Sequence[AttesterDutyRef],
    blocks: Iterable[InclusionBlock],
    *,
    chain: CanonicalChain,
    justified: Checkpoint,
    committee_lengths: Mapping[tuple[int, int], int],
    slots_per_epoch: int,
    max_committees_per_slot: int = 64,
) -> list[AttestationOutcome]:
    """One outcome per duty of ``epoch`` (duties of other epochs are rejected), in duty order."""
    for d in duties:
        if d.slot // slots_per_epoch != epoch:
            raise ValueError(f"duty at slot {d.slot} is not in epoch {epoch}")
    window_end = (epoch + 2) * slots_per_epoch - 1
    timely_source_delay = math.isqrt(slots_per_epoch)
    target_root = chain.root_at(epoch * slots_per_epoch) if duties else None
    by_slot_committee: dict[tuple[int, int], list[AttesterDutyRef]] = {}
    committees_at: dict[int, set[int]] = {}  # slot → our committees: skip aggregates fast
    for d in duties:
        by_slot_committee.setdefault((d.slot, d.committee_index), []).append(d)
        committees_at.setdefault(d.slot, set()).add(d.committee_index)
    lengths = {**committee_lengths, **committee_lengths_from_duties(duties)}  # duties win
    best: dict[tuple[int, int], _Best] = {}  # (validator, slot) → what its inclusions earned

    for block in sorted(blocks, key=lambda b: b.slot):
        if block.slot > window_end:
            continue
        for att in block.attestations:
            data = att.data
            delay = block.slot - data.slot
            if data.target.epoch != epoch or delay < MIN_ATTESTATION_INCLUSION_DELAY:
                continue  # another epoch's vote, or not includable (a malformed block)
            ours = committees_at.get(data.slot)
            if ours is None or (
                att.committee_bits is None and data.index not in ours
            ):  # pre-Electra: one committee per aggregate, often not ours
                continue
            decoded = decode_aggregate(att, lengths, ours, max_committees_per_slot)
            source = data.source == justified
            target = source and data.target.root == target_root
            head = target and data.beacon_block_root == chain.root_at(data.slot)
            for ci in decoded.spans:
                for d in by_slot_committee[(data.slot, ci)]:
                    if not decoded.signed(ci, d.position):
                        continue
                    key = (d.validator_index, d.slot)
                    b = best.get(key)
                    if b is None:
                        b = best[key] = _Best(block.slot, source, target, head)
                    b.timely_source |= source and delay <= timely_source_delay
                    b.timely_target |= target
                    b.timely_head |= head and delay == MIN_ATTESTATION_INCLUSION_DELAY

    out: list[AttestationOutcome] = []
    for d in duties:
        b = best.get((d.validator_index, d.slot))
        out.append(
            AttestationOutcome(
                d.validator_index,
                Epoch(epoch),
                d.slot,
                d.committee_index,
                None if b is None else b.inclusion_slot,
                b is not None and b.source,
                b is not None and b.target,
                b is not None and b.head,
                b is not None and b.timely_source,
                b is not None and b.timely_target,
                b is not None and b.timely_head,
            )
        )
    return out


def slots_needing_committees(
    epoch: int,
    duties: Sequence[AttesterDutyRef],
    blocks: Iterable[InclusionBlock],
    committee_lengths: Mapping[tuple[int, int], int],
    *,
    slots_per_epoch: int,
    max_committees_per_slot: int = 64,
) -> list[Slot]:
    """Duty slots whose aggregates cannot be decoded with the lengths known so far.

    Fetch ``states/{slot}/committees?slot={slot}`` for each (one call per slot), add the lengths
    with ``committee_lengths_from_committees`` and ``evaluate_attestations`` will not raise
    ``CommitteeLengthUnknown``.
    """
    ours: dict[int, set[int]] = {}
    for d in duties:
        ours.setdefault(d.slot, set()).add(d.committee_index)
    lengths = {**committee_lengths, **committee_lengths_from_duties(duties)}  # duties win
    window_end = (epoch + 2) * slots_per_epoch - 1
    missing: set[Slot] = set()
    for block in blocks:
        if block.slot > window_end:
            continue
        for att in block.attestations:
            slot = att.data.slot
            if att.data.target.epoch != epoch or slot in missing or slot not in ours:
                continue
            try:
                decode_aggregate(att, lengths, ours[slot], max_committees_per_slot)
            except CommitteeLengthUnknown:
                missing.add(slot)
    return sorted(missing)
