"""The delegators' credited total (Σ of their floored accruals, for the pool's dust) kept up to date
between epochs, exactly, without reading every schedule again.

Why no running sum: a delegator's accrual is read as ``floor((x_i + NUDGE) / SCALE)``, and when the
accumulator moves each delegator's floor moves by its own amount, depending on its own remainder;
the sum of the floors is not a function of any aggregate of the delegators, so every delegator with
weight has to be read once per new accumulator value. What can be kept is everything else:

* per delegator, the segment of its schedule in effect at the newest settled epoch ``T``, as two
  integers ``k`` (its closed segments, the base of the open one and the nudge) and ``w`` (the open
  segment's weight), so that its accrual read at any epoch ``E`` of that segment is
  ``(k + w·acc(E)) // SCALE``, and the epoch of its next change. An epoch settled costs one pass of
  that expression over two lists (no SQL, no schedule walked: about 0.15 s for a million);
* an entry is rebuilt from its schedule only when it changed (the journal names it), when its next
  change comes into effect, or when a reorg reverses an epoch its entry read;
* the credited total per end epoch: the final end is an epoch that was once the newest, and its
  total cannot change any more (final rows are immutable, a delegation change takes effect after
  the last settled epoch, a reversal drops the totals it reaches).

``ledger_read.credited_gwei`` stays the definition (one pass over every schedule); tests compare the
two after many settles, changes and reorgs.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence

from stakepool.ledger.accumulator import NUDGE, SCALE, accrued_scaled, to_gwei
from stakepool.ledger.queries import FinalTotal
from stakepool.ledger.store.ledger_sql import acc_lookup, last_epochs, schedule
from stakepool.store.engine import Connection

NEVER = 2**63 - 1
"""``next change`` of a delegator whose schedule has no point after ``T``."""

REBUILD_SHARE = 10
REBUILD_MIN = 1000
"""More than 1/REBUILD_SHARE of the entries to rebuild, and more than REBUILD_MIN (a new file):
one pass over every schedule is cheaper than one query per delegator."""


def segment_at(
    points: Sequence[tuple[int, int]], epoch: int, acc_after: Callable[[int], int]
) -> tuple[int, int, int]:
    """``(k, w, next change)`` of the schedule's segment in effect at ``epoch``: its accrual read
    at any epoch ``E`` of that segment (``epoch <= E < next change``) is ``(k + w·acc(E)) //
    SCALE``. Before the first point: weight 0 and ``k = NUDGE`` (reads 0)."""
    k, w = NUDGE, 0
    for start, weight in points:
        if start > epoch:
            return k, w, start
        # acc(E) − acc(start − 1) for the new weight, and the old one's segment closed there.
        k += (w - weight) * acc_after(start - 1)
        w = weight
    return k, w, NEVER


class CreditedTotals:
    """The state above, for one database (``SqliteLedgerStore`` keeps one, refreshed under its
    lock in a worker thread, each refresh on one snapshot)."""

    def __init__(self, rebuild_share: int = REBUILD_SHARE) -> None:
        self.rebuild_share = rebuild_share
        self.full_passes = 0
        """How many times every schedule was read (tests and benchmarks watch it)."""
        self._reset()

    def _reset(self) -> None:
        self.epoch: int | None = None
        """``T``: the settled epoch every entry is positioned at."""
        self.first_settled: int | None = None
        self.ids: list[str] = []
        """Row → delegator; rows below ``self.built`` are in id order (the build's scan), found by
        bisection: a dict of a million ids would cost about 100 MB more."""
        self.built = 0
        self.added: dict[str, int] = {}
        """Delegators first seen after the build (a few): their rows."""
        self.k: list[int] = []
        self.w = array("q")
        self.next = array("q")
        self.due: dict[int, list[int]] = {}
        """Next change epoch → rows whose entry moves then (may hold stale rows: checked)."""
        self.journal_id = 0
        self.reversal_id = 0
        self.by_end: dict[int, int] = {}

    def refresh(self, conn: Connection) -> FinalTotal:
        """The credited totals ``(at the last final epoch, at the last settled epoch)``, as
        ``ledger_read.credited_gwei`` gives them, brought up to date with what ``conn`` sees."""
        first, last, last_final = last_epochs(conn)
        if last is None:
            self._reset()
            return FinalTotal(0, 0)
        journal = int(
            conn.execute("SELECT COALESCE(MAX(id), 0) FROM delegation_journal").fetchone()[0]
        )
        reversal = int(
            conn.execute("SELECT COALESCE(MAX(id), 0) FROM ledger_epoch_reversals").fetchone()[0]
        )
        acc_after = _acc_lookup(conn, first)
        stale = self._stale(conn, first, last, journal, reversal)
        if stale is None or len(stale) > max(len(self.ids) // self.rebuild_share, REBUILD_MIN):
            self._build(conn, first, last, acc_after)
        else:
            for delegator in stale:
                self._put(delegator, schedule(conn, delegator), last, acc_after)
            self.epoch = last
        self.journal_id, self.reversal_id = journal, reversal
        total = self._at_newest(last, acc_after)
        final = 0 if last_final is None else self._at(conn, last_final, acc_after)
        floor = last if last_final is None else last_final
        self.by_end = {e: v for e, v in self.by_end.items() if e >= floor}
        return FinalTotal(final, total)

    def _stale(
        self, conn: Connection, first: int | None, last: int, journal: int, reversal: int
    ) -> set[str] | None:
        """The delegators whose entry must be rebuilt to stand at ``last``; ``None``: all."""
        if self.epoch is None or first != self.first_settled:
            return None
        stale: set[str] = set()
        if reversal != self.reversal_id:
            if reversal < self.reversal_id:
                return None  # another database's history (a restored file): start over
            row = conn.execute(
                "SELECT MIN(epoch) FROM ledger_epoch_reversals WHERE id > ?", (self.reversal_id,)
            ).fetchone()
            reverted = int(row[0])
            self.by_end = {e: v for e, v in self.by_end.items() if e < reverted}
            # An entry read acc(start − 1) for its points up to T: those at or after the
            # reverted epoch read a reversed value, or stand beyond the new last epoch.
            stale.update(
                str(r[0])
                for r in conn.execute(
                    "SELECT DISTINCT delegator FROM delegator_weights WHERE epoch >= ?",
                    (reverted,),
                )
            )
        elif last < self.epoch:
            return None  # the newest epoch went back without a reversal: start over
        if journal != self.journal_id:
            if journal < self.journal_id:
                return None
            stale.update(
                str(r[0])
                for r in conn.execute(
                    "SELECT DISTINCT delegator FROM delegation_journal WHERE id > ?",
                    (self.journal_id,),
                )
            )
        for epoch in [e for e in self.due if e <= last]:
            stale.update(self.ids[r] for r in self.due.pop(epoch) if self.next[r] == epoch)
        return stale

    def _row(self, delegator: str) -> int | None:
        i = bisect_left(self.ids, delegator, 0, self.built)
        if i < self.built and self.ids[i] == delegator:
            return i
        return self.added.get(delegator)

    def _put(
        self,
        delegator: str,
        points: Sequence[tuple[int, int]],
        epoch: int,
        acc_after: Callable[[int], int],
    ) -> None:
        k, w, upcoming = segment_at(points, epoch, acc_after)
        row = self._row(delegator)
        if row is None:
            row = len(self.k)
            if self.epoch is not None:  # not building: out of the id order
                self.added[delegator] = row
            self.ids.append(delegator)
            self.k.append(k)
            self.w.append(w)
            self.next.append(upcoming)
        else:
            self.k[row], self.w[row], self.next[row] = k, w, upcoming
        if upcoming != NEVER:
            self.due.setdefault(upcoming, []).append(row)

    def _build(
        self, conn: Connection, first: int | None, last: int, acc_after: Callable[[int], int]
    ) -> None:
        """Every entry from one ordered pass over the schedules."""
        self._reset()
        self.full_passes += 1
        self.first_settled = first
        current: str | None = None
        points: list[tuple[int, int]] = []
        for delegator, epoch, weight in conn.execute(
            "SELECT delegator, epoch, weight_gwei FROM delegator_weights ORDER BY delegator, epoch"
        ):
            if delegator != current:
                if current is not None:
                    self._put(current, points, last, acc_after)
                current, points = str(delegator), []
            points.append((int(epoch), int(weight)))
        if current is not None:
            self._put(current, points, last, acc_after)
        self.built = len(self.ids)
        self.epoch = last

    def _sum(self, acc: int) -> int:
        return sum((k + w * acc) // SCALE for k, w in zip(self.k, self.w, strict=True))

    def _at_newest(self, last: int, acc_after: Callable[[int], int]) -> int:
        if last not in self.by_end:
            self.by_end[last] = self._sum(acc_after(last))
        return self.by_end[last]

    def _at(self, conn: Connection, end: int, acc_after: Callable[[int], int]) -> int:
        """At an earlier end (the last final epoch, not seen as the newest): the entries, except
        those of delegators with a point in ``(end, T]``: such a delegator reads 0 when it has no
        point up to ``end``, else its accrual is read from its schedule."""
        if end in self.by_end:
            return self.by_end[end]
        assert self.epoch is not None
        acc = acc_after(end)
        total = self._sum(acc)
        for delegator, active in conn.execute(
            "SELECT a.delegator, MIN(a.epoch) <= ? FROM delegator_weights a WHERE a.delegator IN"
            " (SELECT b.delegator FROM delegator_weights b WHERE b.epoch > ? AND b.epoch <= ?)"
            " GROUP BY a.delegator",
            (end, end, self.epoch),
        ).fetchall():
            row = self._row(str(delegator))
            assert row is not None  # every delegator with a schedule has an entry
            total -= (self.k[row] + self.w[row] * acc) // SCALE
            if active:
                points = schedule(conn, str(delegator))
                total += to_gwei(accrued_scaled(points, acc_after, points[0][0], end))
        self.by_end[end] = total
        return total


def _acc_lookup(conn: Connection, first: int | None) -> Callable[[int], int]:
    """``acc_after(k)`` as ``ledger_read.credited_gwei`` defines it: 0 before the first settled
    epoch (without a query), the newest accumulator after the last; read per epoch asked (a few
    per refresh)."""
    lookup = acc_lookup(conn)

    def acc_after(epoch: int) -> int:
        return 0 if first is None or epoch < first else lookup(epoch)

    return acc_after
