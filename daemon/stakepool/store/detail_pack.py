"""One settled epoch's per-validator detail as one packed, compressed blob (pure).

Why: a row per validator and epoch cost ~166 bytes on disk (row, JSON text, key, index); the
same figures as integer columns over the pool's sorted indices, each column at the narrowest
width that holds it, compress to a few bytes per validator (``bench/bench_ledger_size.py``).

Exactness: every value is a Python ``int`` and comes back equal. A column whose values do not fit
in 64 signed bits is stored as decimal text instead, so no value is ever narrowed; a ``None`` is
kept apart from a 0 by a presence mask. Component names are kept as given (sorted on the way out).

Layout: ``MAGIC`` + zlib(header length (4 bytes, little endian) + header JSON + column bytes).
The header lists ``[name, kind, byte length]`` per column; ``kind`` is an ``array`` type code
(``b``, ``h``, ``i``, ``q``) or ``t`` (comma-separated decimal text). Indices are stored as
deltas from the previous (sorted) index, so a dense pool's index column is all 1s.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import Literal, Protocol

MAGIC = b"SPD1"
LEVEL = 1
"""zlib level: 6 saves ~15 % of 2.8 bytes per validator-epoch for ~25 % more time to pack."""

_WIDTHS = (("b", 7), ("h", 15), ("i", 31), ("q", 63))
if array("i").itemsize != 4 or array("q").itemsize != 8:  # pragma: no cover - exotic platforms
    raise ImportError("detail_pack needs 4-byte 'i' and 8-byte 'q' arrays")


Part = Literal["all", "money", "explanation"]


class DetailLike(Protocol):
    """What ``pack`` reads of a row (``DetailRow``, or the ledger's ``ValidatorEpochRow``)."""

    @property
    def validator_index(self) -> int: ...
    @property
    def reward_gwei(self) -> int: ...
    @property
    def components_gwei(self) -> Mapping[str, int] | None: ...
    @property
    def residual_gwei(self) -> int | None: ...
    @property
    def attestation_included(self) -> bool | None: ...
    @property
    def proposals(self) -> int: ...
    @property
    def proposals_missed(self) -> int: ...


class PackError(ValueError):
    """A blob that is not one this module wrote, or rows it cannot pack."""


@dataclass(frozen=True, slots=True)
class DetailRow:
    """One validator's figures in one epoch (the ledger's ``validator_epochs`` columns)."""

    validator_index: int
    reward_gwei: int
    components_gwei: Mapping[str, int] | None
    residual_gwei: int | None
    attestation_included: bool | None
    proposals: int
    proposals_missed: int


def _kind(values: Sequence[int]) -> str:
    if not values:
        return "b"
    low, high = min(values), max(values)
    for code, bits in _WIDTHS:
        if -(1 << bits) <= low and high < (1 << bits):
            return code
    return "t"


def _column(name: str, values: Sequence[int]) -> tuple[str, bytes]:
    try:
        kind = _kind(values)
        if kind == "t":
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int):
                    raise TypeError(f"{v!r} is not an integer")
            return kind, ",".join(str(v) for v in values).encode("ascii")
        data = array(kind, values)
    except TypeError as exc:
        raise PackError(f"column {name}: {exc}") from exc
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        data.byteswap()
    return kind, data.tobytes()


def _nullable(name: str, values: list[int | None]) -> list[tuple[str, Sequence[int]]]:
    """The column, and its presence mask only when a value is missing (the common case has
    none, and skipping it saves a pass)."""
    if None not in values:
        return [(name, values)]  # type: ignore[list-item] # no None: checked just above
    return [
        (name, [0 if v is None else v for v in values]),
        (f"{name}?", [0 if v is None else 1 for v in values]),
    ]


def _component_columns(comps: list[Mapping[str, int] | None]) -> list[tuple[str, Sequence[int]]]:
    present = [c for c in comps if c is not None]
    names = sorted(present[0]) if present else []
    if sum(map(len, present)) != len(names) * len(present):
        # Not every dict has the first one's names (the usual case does): the union, slowly.
        names = sorted({k for c in present for k in c})
    out: list[tuple[str, Sequence[int]]] = []
    if len(present) < len(comps):
        out.append(("comp?", [0 if c is None else 1 for c in comps]))
    if names:
        try:
            # Fast path: every validator with components has every name (the usual case): one
            # C-level pass per name, no per-row Python.
            zero = dict.fromkeys(names, 0)
            full = (
                comps if len(present) == len(comps) else [zero if c is None else c for c in comps]
            )
            for name in names:
                out.append((f"c:{name}", list(map(itemgetter(name), full))))  # type: ignore[arg-type]
        except KeyError:
            # Some dict lacks a name: a mask per name tells a missing name from a 0 (a validator
            # without components has its "comp?" mask; its figures are stored as 0).
            out = [col for col in out if col[0] == "comp?"]
            names = sorted({k for c in present for k in c})
            for name in names:
                got = [0 if c is None else c.get(name) for c in comps]
                out.extend(
                    (f"c:{name}" if n == name else f"c?:{name}", col)
                    for n, col in _nullable(name, got)
                )
    return out


def pack(rows: Sequence[DetailLike], *, level: int = LEVEL, part: Part = "all") -> bytes:
    """The blob of one epoch's rows (any order; validator indices must be distinct, ≥ 0).

    ``part``: ``money`` keeps the settlement and the duties (the explanation as absent),
    ``explanation`` the components and residuals (the rest as 0); the rows are read as they are,
    never copied (an epoch of a big pool is 100,000 of them)."""
    ordered = sorted(rows, key=attrgetter("validator_index"))
    indices = list(map(attrgetter("validator_index"), ordered))
    if indices and indices[0] < 0:
        raise PackError(f"negative validator index {indices[0]}")
    deltas = [b - a for a, b in zip([0, *indices], indices, strict=False)]
    if 0 in deltas[1:]:
        raise PackError("a validator appears twice in one epoch")
    zeros = [0] * len(ordered)
    columns: list[tuple[str, Sequence[int]]] = [("index", deltas)]
    if part == "explanation":
        columns += [("reward", zeros), ("att", zeros), ("att?", zeros)]
        columns += [("proposals", zeros), ("missed", zeros)]
    else:
        columns += [
            ("reward", list(map(attrgetter("reward_gwei"), ordered))),
            *_nullable("att", list(map(attrgetter("attestation_included"), ordered))),
            ("proposals", list(map(attrgetter("proposals"), ordered))),
            ("missed", list(map(attrgetter("proposals_missed"), ordered))),
        ]
    if part == "money":
        columns += [("residual", zeros), ("residual?", zeros), ("comp?", zeros)]
    else:
        columns += [
            *_nullable("residual", list(map(attrgetter("residual_gwei"), ordered))),
            *_component_columns(list(map(attrgetter("components_gwei"), ordered))),
        ]
    header: list[list[object]] = []
    parts: list[bytes] = []
    for name, values in columns:
        kind, data = _column(name, values)
        header.append([name, kind, len(data)])
        parts.append(data)
    head = json.dumps({"n": len(ordered), "cols": header}, separators=(",", ":")).encode()
    payload = len(head).to_bytes(4, "little") + head + b"".join(parts)
    return MAGIC + zlib.compress(payload, level)


class PackedEpoch:
    """A decoded blob: columns as arrays, rows built on demand (one validator or all)."""

    def __init__(self, blob: bytes) -> None:
        if not blob.startswith(MAGIC):
            raise PackError("not a packed validator-detail blob")
        try:
            payload = zlib.decompress(blob[len(MAGIC) :])
            size = int.from_bytes(payload[:4], "little")
            head = json.loads(payload[4 : 4 + size])
        except (zlib.error, ValueError) as exc:
            raise PackError(f"corrupt validator-detail blob: {exc}") from exc
        self.count = int(head["n"])
        self._cols: dict[str, Sequence[int]] = {}
        offset = 4 + size
        for name, kind, length in head["cols"]:
            raw = payload[offset : offset + length]
            offset += length
            values: Sequence[int]
            if kind == "t":
                values = [int(x) for x in raw.decode("ascii").split(",")] if raw else []
            else:
                values = array(kind)
                values.frombytes(raw)
                if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
                    values.byteswap()
            if len(values) != self.count:
                raise PackError(f"corrupt validator-detail blob: column {name} has wrong length")
            self._cols[str(name)] = values
        self.rewards: Sequence[int] = self._cols["reward"]
        self._indices: Sequence[int] | None = None
        self._components = sorted(n[2:] for n in self._cols if n.startswith("c:"))

    @property
    def indices(self) -> Sequence[int]:
        """The pool's sorted indices (decoded on first use: the explanation half of an epoch
        reuses its money half's)."""
        if self._indices is None:
            self._indices = list(accumulate(self._cols["index"]))
        return self._indices

    def same_validators(self, other: PackedEpoch) -> bool:
        deltas, theirs = self._cols["index"], other._cols["index"]
        if isinstance(deltas, array) and isinstance(theirs, array):
            return deltas.typecode == theirs.typecode and deltas.tobytes() == theirs.tobytes()
        return list(deltas) == list(theirs)

    def position(self, validator_index: int) -> int | None:
        i = bisect_left(self.indices, validator_index)
        return i if i < self.count and self.indices[i] == validator_index else None

    def _has(self, mask: str, i: int) -> bool:
        """A column without a mask has every value (the writer omits an all-present mask)."""
        column = self._cols.get(mask)
        return column is None or bool(column[i])

    def row(self, i: int, *, index: int | None = None) -> DetailRow:
        """Row ``i``; ``index``: its validator index when the caller knows it already."""
        c = self._cols
        components: dict[str, int] | None = None
        if self._has("comp?", i):
            components = {
                name: int(c[f"c:{name}"][i])
                for name in self._components
                if self._has(f"c?:{name}", i)
            }
        return DetailRow(
            validator_index=int(self.indices[i]) if index is None else index,
            reward_gwei=int(c["reward"][i]),
            components_gwei=components,
            residual_gwei=int(c["residual"][i]) if self._has("residual?", i) else None,
            attestation_included=bool(c["att"][i]) if self._has("att?", i) else None,
            proposals=int(c["proposals"][i]),
            proposals_missed=int(c["missed"][i]),
        )

    def rows(self) -> Iterator[DetailRow]:
        for i in range(self.count):
            yield self.row(i)


def unpack(blob: bytes) -> list[DetailRow]:
    return list(PackedEpoch(blob).rows())


def split(rows: Sequence[DetailLike]) -> tuple[bytes, bytes | None]:
    """The money-and-duties blob and the explanation blob (``None``: nothing explained)."""
    money = pack(rows, part="money")
    if all(r.components_gwei is None and r.residual_gwei is None for r in rows):
        return money, None
    return money, pack(rows, part="explanation")


class DetailEpoch:
    """One epoch's detail from its two blobs: the explanation read only when a row is built."""

    def __init__(self, packed: bytes, explanation: bytes | None) -> None:
        self.money = PackedEpoch(packed)
        self._explanation = explanation
        self._explained: PackedEpoch | None = None
        self.count = self.money.count
        self.rewards = self.money.rewards

    @property
    def indices(self) -> Sequence[int]:
        return self.money.indices

    def position(self, validator_index: int) -> int | None:
        return self.money.position(validator_index)

    def row(self, i: int) -> DetailRow:
        r = self.money.row(i)
        if self._explanation is None:
            return r
        if self._explained is None:
            self._explained = PackedEpoch(self._explanation)
            if not self._explained.same_validators(self.money):
                raise PackError("the explanation's validators differ from the epoch's")
        e = self._explained.row(i, index=int(self.indices[i]))
        return replace(r, components_gwei=e.components_gwei, residual_gwei=e.residual_gwei)

    def rows(self) -> Iterator[DetailRow]:
        for i in range(self.count):
            yield self.row(i)
