"""The first load of a delegations file: a million delegators in a few statements, not rows.

When the ledger holds no weight schedule at all (a daemon's first start with its file), every
delegator's change is from weight 0, so what ``apply_delegations`` would write one delegator at a
time is known from the set alone: the ``delegators`` rows, each schedule's tail from the boundary
(``delegator_weights``), the per-epoch totals (``weight_changes``) and one journal line per
non-zero change point, delegators in sorted order and epochs ascending within each. This module
computes those rows as columns (no Python object per delegation) and writes them through one
staging table: the rows are bound once (``executemany`` on SQLite, ``COPY`` on PostgreSQL), then
each ledger table is filled by one ``INSERT … SELECT`` in the staging order, so the journal's ids
come out in the order the row-by-row path gives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from stakepool.ledger.delegations import DelegationSet, weight_at
from stakepool.ledger.queries import DelegationChange
from stakepool.store.engine import Connection, dialect_of


def tail(points: Sequence[tuple[int, int]], boundary: int, before: int) -> list[tuple[int, int]]:
    """The schedule from ``boundary`` on, as change points relative to the weight ``before`` it."""
    out: list[tuple[int, int]] = []
    current = before
    candidates = [(boundary, weight_at(points, boundary))] + [p for p in points if p[0] > boundary]
    for epoch, weight in candidates:
        if weight != current:
            out.append((epoch, weight))
            current = weight
    return out


def contribute(
    deltas: dict[int, list[int]], tail: Sequence[tuple[int, int]], before: int, sign: int
) -> None:
    """Add (sign=+1) or remove (sign=-1) a schedule tail's changes to the per-epoch totals."""
    current = before
    for epoch, weight in tail:
        delta = deltas.setdefault(epoch, [0, 0])
        delta[0] += sign * (weight - current)
        delta[1] += sign * (int(weight > 0) - int(current > 0))
        current = weight


class JournalLines(Sequence[DelegationChange]):
    """The journal lines of a first load (every previous weight 0), built when read: a million
    of them are counted and logged far more often than listed."""

    def __init__(
        self, delegators: Sequence[str], epochs: Sequence[int], weights: Sequence[int], source: str
    ) -> None:
        self._delegators = delegators
        self._epochs = epochs
        self._weights = weights
        self._source = source

    def __len__(self) -> int:
        return len(self._delegators)

    @overload
    def __getitem__(self, index: int) -> DelegationChange: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[DelegationChange]: ...

    def __getitem__(self, index: int | slice) -> DelegationChange | Sequence[DelegationChange]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return DelegationChange(
            self._delegators[index], self._epochs[index], self._weights[index], 0, self._source
        )

    def __iter__(self) -> Iterator[DelegationChange]:
        source = self._source
        for d, e, w in zip(self._delegators, self._epochs, self._weights, strict=True):
            yield DelegationChange(d, e, w, 0, source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"JournalLines({len(self)} changes from {self._source!r})"


@dataclass(frozen=True, slots=True)
class FirstLoad:
    """What a first load writes. The staging rows are one per schedule point, and one with
    ``epoch``/``weight`` ``None`` for a delegator whose schedule ends before the boundary (it is
    still known as a delegator); the journal lines are the points with a non-zero weight."""

    stage_delegators: Sequence[str]
    stage_epochs: Sequence[int | None]
    stage_weights: Sequence[int | None]
    deltas: dict[int, list[int]]
    changes: JournalLines
    source: str

    def count_at(self, epoch: int) -> int:
        """Delegators with weight at ``epoch`` that the load adds."""
        return sum(n for e, (_w, n) in self.deltas.items() if e <= epoch)


def _sorted(delegations: DelegationSet) -> tuple[list[str], list[int], list[int], list[int | None]]:
    columns = delegations.columns
    ds, amounts = list(columns.delegators), list(columns.amounts)
    froms, tos = list(columns.from_epochs), list(columns.to_epochs)
    if not columns.ascending():
        order = sorted(range(len(ds)), key=ds.__getitem__)
        ds = [ds[i] for i in order]
        amounts = [amounts[i] for i in order]
        froms = [froms[i] for i in order]
        tos = [tos[i] for i in order]
    return ds, amounts, froms, tos


def _simple(delegations: DelegationSet, boundary: int) -> FirstLoad:
    """Every delegator named once with a positive amount and a non-empty range: its tail is
    ``(max(from, boundary), amount)``, then ``(to, 0)`` if it ends after the boundary, or nothing
    if it ends before (``tail`` of its one-entry schedule, without building the schedule)."""
    ds, amounts, froms, tos = _sorted(delegations)
    starts = [f if f > boundary else boundary for f in froms]
    deltas: dict[int, list[int]] = {}
    if tos.count(None) == len(tos):
        # The common file: open-ended delegations only, one point each.
        for epoch, amount in zip(starts, amounts, strict=True):
            delta = deltas.get(epoch)
            if delta is None:
                deltas[epoch] = [amount, 1]
            else:
                delta[0] += amount
                delta[1] += 1
        changes = JournalLines(ds, starts, amounts, delegations.source)
        return FirstLoad(ds, starts, amounts, deltas, changes, delegations.source)
    stage_d: list[str] = []
    stage_e: list[int | None] = []
    stage_w: list[int | None] = []
    journal_d: list[str] = []
    journal_e: list[int] = []
    journal_w: list[int] = []
    for d, amount, start, end in zip(ds, amounts, starts, tos, strict=True):
        if end is not None and end <= boundary:
            stage_d.append(d)
            stage_e.append(None)
            stage_w.append(None)
            continue
        points = [(start, amount)] if end is None else [(start, amount), (end, 0)]
        contribute(deltas, points, 0, +1)
        for epoch, weight in points:
            stage_d.append(d)
            stage_e.append(epoch)
            stage_w.append(weight)
        journal_d.append(d)
        journal_e.append(start)
        journal_w.append(amount)
    changes = JournalLines(journal_d, journal_e, journal_w, delegations.source)
    return FirstLoad(stage_d, stage_e, stage_w, deltas, changes, delegations.source)


def plan(delegations: DelegationSet, boundary: int) -> FirstLoad:
    """The rows a first load from ``boundary`` writes: those of the row-by-row path with every
    current schedule empty."""
    if delegations.columns.simple():
        return _simple(delegations, boundary)
    stage_d: list[str] = []
    stage_e: list[int | None] = []
    stage_w: list[int | None] = []
    journal_d: list[str] = []
    journal_e: list[int] = []
    journal_w: list[int] = []
    deltas: dict[int, list[int]] = {}
    for d, points in delegations.schedules().items():
        new_tail = tail(points, boundary, 0)
        contribute(deltas, new_tail, 0, +1)
        if not new_tail:
            stage_d.append(d)
            stage_e.append(None)
            stage_w.append(None)
        for epoch, weight in new_tail:
            stage_d.append(d)
            stage_e.append(epoch)
            stage_w.append(weight)
            if weight:
                journal_d.append(d)
                journal_e.append(epoch)
                journal_w.append(weight)
    changes = JournalLines(journal_d, journal_e, journal_w, delegations.source)
    return FirstLoad(stage_d, stage_e, stage_w, deltas, changes, delegations.source)


def has_schedules(conn: Connection) -> bool:
    """Whether any delegator has a weight schedule (else a change is a first load)."""
    return conn.execute("SELECT 1 FROM delegator_weights LIMIT 1").fetchone() is not None


def write(conn: Connection, load: FirstLoad) -> None:
    """``load``'s ``delegators``, ``delegator_weights`` and journal rows, inside the caller's
    transaction (its rollback undoes them, the staging table included)."""
    rows = zip(load.stage_delegators, load.stage_epochs, load.stage_weights, strict=True)
    if dialect_of(conn).name == "postgresql":
        conn.execute("DROP TABLE IF EXISTS pg_temp.delegation_stage")
        conn.execute(
            "CREATE TEMPORARY TABLE delegation_stage (seq BIGINT GENERATED ALWAYS AS IDENTITY,"
            " delegator TEXT NOT NULL, epoch BIGINT, weight BIGINT) ON COMMIT DROP"
        )
        copy_in = getattr(conn, "copy_in", None)
        if copy_in is not None:
            copy_in("delegation_stage", ("delegator", "epoch", "weight"), rows)
        else:  # pragma: no cover - every PostgreSQL connection of the store has copy_in
            conn.executemany(
                "INSERT INTO delegation_stage (delegator, epoch, weight) VALUES (?, ?, ?)", rows
            )
    else:
        conn.execute("DROP TABLE IF EXISTS temp.delegation_stage")
        conn.execute(
            "CREATE TEMPORARY TABLE delegation_stage (seq INTEGER PRIMARY KEY,"
            " delegator TEXT NOT NULL, epoch INTEGER, weight INTEGER)"
        )
        conn.executemany(
            "INSERT INTO delegation_stage (delegator, epoch, weight) VALUES (?, ?, ?)", rows
        )
    # One timestamp for the whole load, read once: the column default evaluated per row cost
    # about 0.4 s per million rows in each of ``delegators`` and the journal (SQLite formats
    # ``'now'`` again at every row), and the load is one transaction, one moment.
    now = conn.execute(f"SELECT {dialect_of(conn).now}").fetchone()[0]
    # ``WHERE true``: SQLite reads ``ON CONFLICT`` after a bare ``FROM`` as a join's ``ON``.
    conn.execute(
        "INSERT INTO delegators (id, created_at) SELECT delegator, ? FROM delegation_stage"
        " WHERE true ORDER BY seq ON CONFLICT (id) DO NOTHING",
        (now,),
    )
    conn.execute(
        "INSERT INTO delegator_weights (delegator, epoch, weight_gwei)"
        " SELECT delegator, epoch, weight FROM delegation_stage WHERE epoch IS NOT NULL ORDER BY seq"
    )
    conn.execute(
        "INSERT INTO delegation_journal"
        " (delegator, effective_epoch, weight_gwei, previous_weight_gwei, source, recorded_at)"
        " SELECT delegator, epoch, weight, 0, ?, ? FROM delegation_stage"
        " WHERE epoch IS NOT NULL AND weight <> 0 ORDER BY seq",
        (load.source, now),
    )
    conn.execute("DROP TABLE delegation_stage")
