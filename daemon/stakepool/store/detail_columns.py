"""One epoch's rows read once into integer columns, and packed from them (pure).

Why: at 100,000 validators every pass over the row objects costs milliseconds, and the settle
used to make dozens of them (the bounds check, then the money blob and the explanation blob each
sorting and reading every attribute again): about 0.4 s per epoch. Here each attribute is read
once, in C, into an ``array`` (which, unlike numpy's converters, refuses an integer past 64 bits
instead of truncating it), each value's type checked exactly; numpy then checks the order and the
widths and narrows the columns.

The blobs are byte for byte what ``detail_pack.pack`` writes for the same rows (a unit test holds
the two together). Only the regular epoch takes this path: every attestation outcome a ``bool`` or
``None`` (not judged), every figure an ``int``, and either every validator or none with an explanation
(the same component names, a residual). Anything else (a ``None`` among values, a component
missing for some validator, a value past 64 bits, a ``bool`` for a figure) gives ``None`` and the caller packs the rows as before, which keeps every
such value exactly or refuses it with its message.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import cast

import numpy as np
import numpy.typing as npt

from stakepool.store.detail_pack import LEVEL, MAGIC, DetailLike, PackError, Part

Ints = npt.NDArray[np.int64]

_NARROW = (("b", "<i1", 7), ("h", "<i2", 15), ("i", "<i4", 31), ("q", "<i8", 63))


@dataclass(frozen=True, slots=True)
class DetailColumns:
    """An epoch's figures, one int64 array each, in the order of the sorted validator indices."""

    index: Ints
    reward: Ints
    att: Ints
    """1: included, 0: not included, or not judged where ``judged`` says 0."""
    judged: Ints | None
    """``None``: every validator's attestation was judged (the presence mask is then left out)."""
    proposals: Ints
    missed: Ints
    residual: Ints | None
    """``None``: no validator has an explanation (nor components)."""
    components: Mapping[str, Ints]
    """By sorted name; empty when nothing is explained."""

    @property
    def count(self) -> int:
        return len(self.index)

    @property
    def explained(self) -> bool:
        return self.residual is not None


def _ints(values: Sequence[object], kind: type = int) -> Ints | None:
    """The values as int64, or ``None`` unless each is exactly a ``kind`` (a ``bool`` where an
    ``int`` is expected would pack the same but read back, and digest, differently)."""
    if not set(map(type, values)) <= {kind}:
        return None
    try:
        data = array("q", cast("list[int]", values))  # each a kind: checked just above
    except (TypeError, OverflowError):
        return None
    return np.frombuffer(data, dtype=np.int64)


def _attestations(values: list[bool | None]) -> tuple[Ints | None, Ints | None]:
    """The outcomes and, when some validator was not judged (``None``: an exited or slashed
    one has no duty), their presence mask."""
    if None not in values:
        return _ints(values, bool), None
    if not set(map(type, values)) <= {bool, type(None)}:
        return None, None
    return _ints([bool(v) for v in values], bool), _ints([v is not None for v in values], bool)


def read_columns(rows: Sequence[DetailLike]) -> DetailColumns | None:
    """The rows' columns (sorted by validator index), or ``None`` when the epoch is not regular
    (see the module's note): the caller then uses ``detail_pack`` on the rows."""
    if not rows:
        return None
    index = _ints(list(map(attrgetter("validator_index"), rows)))
    reward = _ints(list(map(attrgetter("reward_gwei"), rows)))
    att, judged = _attestations(list(map(attrgetter("attestation_included"), rows)))
    proposals = _ints(list(map(attrgetter("proposals"), rows)))
    missed = _ints(list(map(attrgetter("proposals_missed"), rows)))
    if index is None or reward is None or att is None or proposals is None or missed is None:
        return None
    residuals = list(map(attrgetter("residual_gwei"), rows))
    comps = list(map(attrgetter("components_gwei"), rows))
    unexplained = residuals.count(None)
    residual: Ints | None = None
    components: dict[str, Ints] = {}
    if unexplained == len(rows) and comps.count(None) == len(rows):
        pass  # nothing explained: the explanation blob is absent
    elif unexplained or None in comps:
        return None  # some explained, some not: masks, the rows' path
    else:
        residual = _ints(residuals)
        names = sorted(comps[0])  # no None: checked above
        if not all(isinstance(name, str) for name in names):
            return None
        if residual is None or sum(map(len, comps)) != len(names) * len(comps):
            return None
        try:
            for name in names:
                column = _ints(list(map(itemgetter(name), comps)))
                if column is None:
                    return None
                components[name] = column
        except KeyError:
            return None  # same count, other names: the rows' path sorts it out
    order: npt.NDArray[np.intp] | None = None
    if len(index) > 1 and not bool((index[1:] > index[:-1]).all()):
        order = np.argsort(index, kind="stable")
    cols = DetailColumns(index, reward, att, judged, proposals, missed, residual, components)
    return cols if order is None else _reordered(cols, order)


def _reordered(cols: DetailColumns, order: npt.NDArray[np.intp]) -> DetailColumns:
    def take(a: Ints) -> Ints:
        return a[order]

    return DetailColumns(
        take(cols.index),
        take(cols.reward),
        take(cols.att),
        None if cols.judged is None else take(cols.judged),
        take(cols.proposals),
        take(cols.missed),
        None if cols.residual is None else take(cols.residual),
        {name: take(a) for name, a in cols.components.items()},
    )


def _column(values: Ints) -> tuple[str, bytes]:
    """``detail_pack._column`` for an int64 array: the narrowest ``array`` code that holds it."""
    if not len(values):
        return "b", b""
    low, high = int(values.min()), int(values.max())
    for code, dtype, bits in _NARROW:
        if -(1 << bits) <= low and high < (1 << bits):
            return code, values.astype(dtype).tobytes()
    raise PackError("an int64 column wider than 64 bits")  # pragma: no cover - cannot happen


def pack_columns(cols: DetailColumns, *, part: Part, level: int = LEVEL) -> bytes:
    """The blob ``detail_pack.pack(rows, part=part)`` writes for the same rows."""
    index = cols.index
    if index[0] < 0:
        raise PackError(f"negative validator index {int(index[0])}")
    deltas = np.diff(index, prepend=np.int64(0))
    if len(deltas) > 1 and not bool((deltas[1:] != 0).all()):
        raise PackError("a validator appears twice in one epoch")
    zeros = np.zeros(cols.count, dtype=np.int64)
    columns: list[tuple[str, Ints]] = [("index", deltas)]
    if part == "explanation":
        columns += [("reward", zeros), ("att", zeros), ("att?", zeros)]
        columns += [("proposals", zeros), ("missed", zeros)]
    else:
        columns += [("reward", cols.reward), ("att", cols.att)]
        if cols.judged is not None:
            columns.append(("att?", cols.judged))
        columns += [("proposals", cols.proposals), ("missed", cols.missed)]
    if part == "money":
        columns += [("residual", zeros), ("residual?", zeros), ("comp?", zeros)]
    elif cols.residual is not None:
        columns.append(("residual", cols.residual))
        columns += [(f"c:{name}", a) for name, a in cols.components.items()]
    else:
        raise PackError("no explanation to pack")
    header: list[list[object]] = []
    parts: list[bytes] = []
    for name, values in columns:
        kind, data = _column(values)
        header.append([name, kind, len(data)])
        parts.append(data)
    head = json.dumps({"n": cols.count, "cols": header}, separators=(",", ":")).encode()
    payload = len(head).to_bytes(4, "little") + head + b"".join(parts)
    return MAGIC + zlib.compress(payload, level)


def split_columns(cols: DetailColumns) -> tuple[bytes, bytes | None]:
    """``detail_pack.split`` of the same rows."""
    money = pack_columns(cols, part="money")
    return money, pack_columns(cols, part="explanation") if cols.explained else None
