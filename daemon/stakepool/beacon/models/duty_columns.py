"""The attester duties answer decoded once, into columns (``columns.py`` for the rules).

A 100,000-validator pool has 100,000 attester duties each epoch, asked twice (the monitor's
duties and the forecast); one pydantic model per duty cost most of a second. The duties keep
their ``dependent_root``: the monitor drops cached duties when it changes.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace

import msgspec

from stakepool.beacon.models.columns import (
    Refused,
    envelope_of,
    hex_column,
    replace_data,
    slow,
    uint64_column,
)
from stakepool.beacon.models.duties import AttesterDuty
from stakepool.beacon.models.wire import Envelope
from stakepool.chain.types import BLSPubkey, CommitteeIndex, Slot, ValidatorIndex


class _DutyWire(msgspec.Struct, gc=False):
    pubkey: str
    validator_index: str
    committee_index: str
    committee_length: str
    committees_at_slot: str
    validator_committee_index: str
    slot: str


class _EnvelopeWire(msgspec.Struct):
    data: list[_DutyWire]
    execution_optimistic: bool = False
    finalized: bool | None = None
    version: str | None = None
    dependent_root: str | None = None


_DECODER = msgspec.json.Decoder(_EnvelopeWire)


@dataclass(frozen=True, slots=True)
class AttesterDutyColumns:
    """One row per duty, in answer order."""

    pubkey: list[str]
    validator_index: array[int]
    committee_index: array[int]
    committee_length: array[int]
    committees_at_slot: array[int]
    validator_committee_index: array[int]
    """The validator's bit position within its committee."""
    slot: array[int]

    def __len__(self) -> int:
        return len(self.validator_index)

    def rows(self) -> Iterator[AttesterDuty]:
        for i in range(len(self)):
            yield AttesterDuty.model_construct(
                pubkey=BLSPubkey(self.pubkey[i]),
                validator_index=ValidatorIndex(self.validator_index[i]),
                committee_index=CommitteeIndex(self.committee_index[i]),
                committee_length=self.committee_length[i],
                committees_at_slot=self.committees_at_slot[i],
                validator_committee_index=self.validator_committee_index[i],
                slot=Slot(self.slot[i]),
            )

    @staticmethod
    def of(duties: Sequence[AttesterDuty]) -> AttesterDutyColumns:
        return AttesterDutyColumns(
            pubkey=[d.pubkey for d in duties],
            validator_index=array("Q", (d.validator_index for d in duties)),
            committee_index=array("Q", (d.committee_index for d in duties)),
            committee_length=array("Q", (d.committee_length for d in duties)),
            committees_at_slot=array("Q", (d.committees_at_slot for d in duties)),
            validator_committee_index=array("Q", (d.validator_committee_index for d in duties)),
            slot=array("Q", (d.slot for d in duties)),
        )

    def without_pubkeys(self) -> AttesterDutyColumns:
        """The same duties with every pubkey ``""``, for a holder that goes by index: 100,000
        pubkeys are ~15 MB of strings, one shared empty string is a list of references."""
        return replace(self, pubkey=[""] * len(self))

    def only(self, members: Collection[int]) -> AttesterDutyColumns:
        """The rows of ``members``' duties, in answer order."""
        index = self.validator_index
        rows = [i for i, v in enumerate(index) if v in members]
        if len(rows) == len(index):
            return self
        return AttesterDutyColumns(
            [self.pubkey[i] for i in rows],
            *(array("Q", map(getattr(self, name).__getitem__, rows)) for name in _NUMBERS),
        )

    @staticmethod
    def concat(parts: Sequence[AttesterDutyColumns]) -> AttesterDutyColumns:
        if len(parts) == 1:
            return parts[0]
        out = AttesterDutyColumns([], *(array("Q") for _ in range(6)))
        for p in parts:
            out.pubkey.extend(p.pubkey)
            for name in _NUMBERS:
                getattr(out, name).extend(getattr(p, name))
        return out


_NUMBERS = AttesterDutyColumns.__slots__[1:]
"""The integer columns, in field order (after ``pubkey``)."""


def _columns(data: list[_DutyWire]) -> AttesterDutyColumns:
    return AttesterDutyColumns(
        pubkey=hex_column([d.pubkey for d in data], 48),
        validator_index=uint64_column([d.validator_index for d in data]),
        committee_index=uint64_column([d.committee_index for d in data]),
        committee_length=uint64_column([d.committee_length for d in data]),
        committees_at_slot=uint64_column([d.committees_at_slot for d in data]),
        validator_committee_index=uint64_column([d.validator_committee_index for d in data]),
        slot=uint64_column([d.slot for d in data]),
    )


def decode_attester_duties(
    raw: bytes, endpoint: str, *, node: str | None = None, header_version: str | None = None
) -> Envelope[AttesterDutyColumns]:
    """The attester duties as columns, or ``MalformedResponse`` naming the bad field."""
    try:
        wire = _DECODER.decode(raw)
        return envelope_of(wire, _columns(wire.data), header_version)
    except (msgspec.ValidationError, msgspec.DecodeError, Refused):
        pass
    env = slow(raw, Envelope[tuple[AttesterDuty, ...]], endpoint, node, header_version)
    return replace_data(env, AttesterDutyColumns.of(env.data))


__all__ = ["AttesterDutyColumns", "decode_attester_duties"]
