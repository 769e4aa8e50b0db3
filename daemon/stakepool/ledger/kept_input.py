"""A settled epoch's input, kept packed until the epoch is final (pure).

The feed keeps every input not yet final, to settle an epoch again from it when the ledger
reverses it for an earlier one (a reorg, a late explanation). That is rarely needed and the
epochs wait two or three closes for finality: as objects, the 100,000 rows of one input hold
about 50 MB (a row, its components dict and their integers), so each kept input is packed as it
is made (msgpack, then zlib: under 1 MB, about 0.1 s of a worker thread) and unpacked only when
it is settled again. The unpacked input equals the one packed, field for field, so its digest
and its rows are the same.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import msgspec

from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow

_ENCODER = msgspec.msgpack.Encoder()
_ROWS = msgspec.msgpack.Decoder(tuple[ValidatorEpochRow, ...])


@dataclass(frozen=True, slots=True)
class KeptInput:
    """An input with its rows packed; ``packed_rows`` is ``None`` when they were kept as they were."""

    head: EpochSettlementInput
    """The input without its rows (or with them, when they could not be packed)."""
    packed_rows: bytes | None

    @classmethod
    def pack(cls, inp: EpochSettlementInput) -> KeptInput:
        try:
            packed = zlib.compress(_ENCODER.encode(inp.validators), 1)
        except OverflowError:  # a figure beyond msgpack's 64 bits: kept as objects, still exact
            return cls(inp, None)
        return cls(replace(inp, validators=()), packed)

    def unpack(self) -> EpochSettlementInput:
        if self.packed_rows is None:
            return self.head
        return replace(self.head, validators=_ROWS.decode(zlib.decompress(self.packed_rows)))
