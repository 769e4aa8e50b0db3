"""Delegation sets as values: entries or columns, and the weight schedules they give (pure).

A delegation set is declarative: it says, for every delegator, its principal in every epoch
(``from_epoch`` inclusive, ``to_epoch`` exclusive, several entries of one delegator add up). The
ledger turns a set into a per-delegator weight schedule: change points ``(epoch, weight from then
on)``. Parsing and validation live in ``delegations``, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter, lt


@dataclass(frozen=True, slots=True)
class Delegation:
    delegator: str
    amount_gwei: int
    from_epoch: int
    to_epoch: int | None = None
    """Exclusive; ``None``: open-ended."""

    def covers(self, epoch: int) -> bool:
        return self.from_epoch <= epoch and (self.to_epoch is None or epoch < self.to_epoch)


@dataclass(frozen=True, slots=True)
class DelegationColumns:
    """A set's entries as four parallel columns (a big file's form: no object per delegation).
    ``to_epochs[i]`` is ``None`` for an open-ended entry."""

    delegators: Sequence[str]
    amounts: Sequence[int]
    from_epochs: Sequence[int]
    to_epochs: Sequence[int | None]

    def __len__(self) -> int:
        return len(self.delegators)

    def rows(self) -> Iterable[tuple[str, int, int, int | None]]:
        return zip(self.delegators, self.amounts, self.from_epochs, self.to_epochs, strict=True)

    def ascending(self) -> bool:
        """The delegators in strictly ascending order (a file written sorted), so each is named
        once: one pass of comparisons, no set of a million ids."""
        ds = self.delegators
        return all(map(lt, ds, islice(ds, 1, None)))

    def simple(self) -> bool:
        """Every delegator named once, every amount positive, every range non-empty: each
        entry's schedule is itself (what ``schedule_of`` gives), without summing anything."""
        if not self.ascending() and len(set(self.delegators)) != len(self.delegators):
            return False
        if self.amounts and min(self.amounts) <= 0:
            return False
        if self.to_epochs.count(None) == len(self.to_epochs):
            return True  # open-ended only: every range is non-empty
        return all(
            t is None or t > f for f, t in zip(self.from_epochs, self.to_epochs, strict=True)
        )


class DelegationSet:
    """A whole, validated set of delegations (file contents or an API body), held either as
    ``Delegation`` entries (an API body, a test) or as columns (a big file parsed in bulk); each
    form is built from the other only when asked for."""

    __slots__ = ("_columns", "_entries", "source")

    def __init__(self, entries: tuple[Delegation, ...], source: str) -> None:
        self._entries: tuple[Delegation, ...] | None = entries
        self._columns: DelegationColumns | None = None
        self.source = source

    @classmethod
    def of_columns(cls, columns: DelegationColumns, source: str) -> DelegationSet:
        made = cls((), source)
        made._entries = None
        made._columns = columns
        return made

    @property
    def entries(self) -> tuple[Delegation, ...]:
        if self._entries is None:
            self._entries = tuple(Delegation(*row) for row in self.columns.rows())
        return self._entries

    @property
    def columns(self) -> DelegationColumns:
        if self._columns is None:
            entries = self.entries
            self._columns = DelegationColumns(
                [e.delegator for e in entries],
                [e.amount_gwei for e in entries],
                [e.from_epoch for e in entries],
                [e.to_epoch for e in entries],
            )
        return self._columns

    def __len__(self) -> int:
        return len(self._entries) if self._entries is not None else len(self.columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DelegationSet):
            return NotImplemented
        return self.source == other.source and self.entries == other.entries

    def __hash__(self) -> int:
        return hash((self.source, len(self)))

    def __repr__(self) -> str:
        return f"DelegationSet({len(self)} entries, source={self.source!r})"

    def delegators(self) -> list[str]:
        return sorted(set(self.columns.delegators))

    def schedules(self) -> dict[str, list[tuple[int, int]]]:
        """Per delegator (in sorted order), the weight change points ``[(epoch, weight from then
        on), ...]``."""
        columns = self.columns
        if columns.simple():
            # Each delegator once, amount > 0, non-empty range (a big file): each schedule is
            # its one entry's points, the same schedule_of gives, without summing or objects.
            rows: Iterable[tuple[str, int, int, int | None]] = columns.rows()
            if not columns.ascending():
                rows = sorted(rows, key=itemgetter(0))
            return {d: [(f, a)] if t is None else [(f, a), (t, 0)] for d, a, f, t in rows}
        by_delegator: dict[str, list[Delegation]] = {}
        for entry in self.entries:
            by_delegator.setdefault(entry.delegator, []).append(entry)
        out: dict[str, list[tuple[int, int]]] = {}
        for d, entries in sorted(by_delegator.items()):
            e = entries[0]
            if len(entries) > 1 or e.amount_gwei <= 0:
                out[d] = schedule_of(entries)
            elif e.to_epoch is None:
                # Most delegators have one entry: its schedule is known without summing (a
                # million of them in a big file), the same points schedule_of gives.
                out[d] = [(e.from_epoch, e.amount_gwei)]
            elif e.to_epoch > e.from_epoch:
                out[d] = [(e.from_epoch, e.amount_gwei), (e.to_epoch, 0)]
            else:
                out[d] = schedule_of(entries)
        return out


def schedule_of(entries: Iterable[Delegation]) -> list[tuple[int, int]]:
    """Change points of the summed weight of ``entries``: ascending epochs, no repeated weight,
    starting with the first epoch where the weight becomes non-zero."""
    deltas: dict[int, int] = {}
    for e in entries:
        deltas[e.from_epoch] = deltas.get(e.from_epoch, 0) + e.amount_gwei
        if e.to_epoch is not None:
            deltas[e.to_epoch] = deltas.get(e.to_epoch, 0) - e.amount_gwei
    points: list[tuple[int, int]] = []
    weight = 0
    for epoch in sorted(deltas):
        weight += deltas[epoch]
        if (points and points[-1][1] == weight) or (not points and weight == 0):
            continue
        points.append((epoch, weight))
    return points


def weight_at(schedule: Sequence[tuple[int, int]], epoch: int) -> int:
    weight = 0
    for start, value in schedule:
        if start > epoch:
            break
        weight = value
    return weight
