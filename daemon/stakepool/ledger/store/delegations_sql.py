"""Delegation schedules in the ledger: ``apply_delegations`` (one ``Database.write`` transaction).

A validated ``DelegationSet`` replaces weight schedules from an epoch boundary on (never before the
ledger's next unsettled epoch, so settled epochs cannot change); each delegator's schedule is kept
as change points, the per-epoch totals (weight, delegators with weight) as running deltas, and
every change is journaled with the epoch it takes effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from stakepool.ledger.delegations import MAX_GWEI, DelegationSet, weight_at
from stakepool.ledger.queries import DelegationApplyResult, DelegationChange
from stakepool.ledger.store import delegations_applied, delegations_bulk
from stakepool.ledger.store.delegations_bulk import contribute as _contribute
from stakepool.ledger.store.delegations_bulk import tail as _tail
from stakepool.ledger.store.interface import LedgerError
from stakepool.ledger.store.ledger_sql import next_epoch, schedule, totals_at
from stakepool.store.engine import Connection

_WEIGHT_DELTAS = "SELECT epoch, weight_delta FROM weight_changes ORDER BY epoch"


def _flush_changes(conn: Connection, deltas: dict[int, list[int]]) -> None:
    conn.executemany(
        "INSERT INTO weight_changes (epoch, weight_delta, count_delta) VALUES (?, ?, ?)"
        " ON CONFLICT (epoch) DO UPDATE SET"
        " weight_delta = weight_changes.weight_delta + excluded.weight_delta,"
        " count_delta = weight_changes.count_delta + excluded.count_delta",
        [(e, w, n) for e, (w, n) in sorted(deltas.items()) if w or n],
    )
    conn.execute("DELETE FROM weight_changes WHERE weight_delta = 0 AND count_delta = 0")
    _check_total(conn.execute(_WEIGHT_DELTAS))


def _check_total(weight_deltas: Iterable[Sequence[Any]]) -> None:
    """Each set is bounded when parsed, but sets that add delegators (the API's default) add up:
    the pool's weight, summed in SQL at every settlement, must stay within SQLite INTEGER."""
    total = 0
    for epoch, delta in weight_deltas:
        total += int(delta)
        if total > MAX_GWEI:
            raise LedgerError(
                f"the pool's delegated weight would reach {total} Gwei at epoch {epoch},"
                f" more than the ledger holds ({MAX_GWEI}); nothing applied"
            )


def last_set_by(conn: Connection, source: str) -> set[str]:
    """Delegators whose latest journaled change came from ``source`` (e.g. ``"api"``)."""
    return {
        str(r[0])
        for r in conn.execute(
            "SELECT j.delegator FROM delegation_journal j"
            " WHERE j.id IN (SELECT MAX(id) FROM delegation_journal GROUP BY delegator)"
            " AND j.source = ?",
            (source,),
        )
    }


def _schedules(conn: Connection) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for delegator, epoch, weight in conn.execute(
        "SELECT delegator, epoch, weight_gwei FROM delegator_weights ORDER BY delegator, epoch"
    ):
        out.setdefault(str(delegator), []).append((int(epoch), int(weight)))
    return out


def apply_delegations(
    conn: Connection,
    delegations: DelegationSet,
    *,
    effective_epoch: int | None = None,
    replace_all: bool = True,
    spare_source: str | None = None,
) -> DelegationApplyResult:
    """``replace_all`` with ``spare_source``: delegators the set does not name and whose latest
    change came from ``spare_source`` are left alone (the delegations file owns the delegators it
    names and those it set before; delegators last set through the API stay as the API left them).
    """
    boundary = _boundary(conn, delegations, effective_epoch)
    mark = _mark(delegations, replace_all, spare_source)
    if mark is not None and delegations_applied.unchanged(conn, mark, boundary):
        return _nothing_changes(conn, boundary)  # a restart with the same file
    if not delegations_bulk.has_schedules(conn):
        # No delegator has a schedule yet (a first start with a big file): every change is
        # from 0, the same rows as below, written in bulk.
        weight_before, _count = totals_at(conn, boundary)
        load = delegations_bulk.plan(delegations, boundary)
        delegations_bulk.write(conn, load)
        _flush_changes(conn, load.deltas)
        _weight, count = totals_at(conn, boundary)
        result = DelegationApplyResult(boundary, load.changes, count, weight_before, 0)
    else:
        result = apply_per_delegator(
            conn,
            delegations,
            effective_epoch=boundary,
            replace_all=replace_all,
            spare_source=spare_source,
        )
    if mark is not None:
        delegations_applied.remember(conn, mark, boundary)
    return result


def _mark(delegations: DelegationSet, replace_all: bool, spare_source: str | None) -> str | None:
    """The digest of a whole set (``replace_all``), which can be known unchanged; an API change
    of a few delegators is not."""
    if not replace_all:
        return None
    return delegations_applied.digest(
        delegations, replace_all=replace_all, spare_source=spare_source
    )


def _nothing_changes(conn: Connection, boundary: int) -> DelegationApplyResult:
    """What ``apply_per_delegator`` answers when every tail is equal: no change, the totals as
    they are."""
    weight, count = totals_at(conn, boundary)
    return DelegationApplyResult(boundary, [], count, weight, 0)


def _boundary(conn: Connection, delegations: DelegationSet, effective_epoch: int | None) -> int:
    earliest = next_epoch(conn)
    boundary = earliest if effective_epoch is None else effective_epoch
    if boundary < earliest:
        raise LedgerError(
            f"{delegations.source}: a change cannot take effect at epoch {boundary}:"
            f" epochs before {earliest} are settled already"
        )
    return boundary


def apply_per_delegator(
    conn: Connection,
    delegations: DelegationSet,
    *,
    effective_epoch: int | None = None,
    replace_all: bool = True,
    spare_source: str | None = None,
) -> DelegationApplyResult:
    """``apply_delegations`` one delegator at a time: each current schedule read and compared
    with the one the set gives, only what differs rewritten and journaled."""
    boundary = _boundary(conn, delegations, effective_epoch)
    desired = delegations.schedules()
    weight_before, _count = totals_at(conn, boundary)
    # One pass over the stored schedules (a file may list a million delegators): read them all
    # when most are concerned, one by one for a small API change.
    current_all = _schedules(conn) if replace_all or len(desired) > 1000 else None
    targets = set(desired) | (set(current_all or ()) if replace_all else set())
    if replace_all and spare_source is not None:
        targets -= last_set_by(conn, spare_source) - set(desired)
    # ``schedules()`` gives its delegators sorted: sorting a million ids again costs a second each.
    conn.executemany(
        "INSERT INTO delegators (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
        # A delegator with a schedule is known already (its rows reference it): a restart
        # re-reads a file of a million delegators, nearly all of them known.
        [(d,) for d in desired if current_all is None or d not in current_all],
    )
    deltas: dict[int, list[int]] = {}
    removed: list[tuple[str, int]] = []
    added: list[tuple[str, int, int]] = []
    changes: list[DelegationChange] = []
    ordered = list(desired) if len(targets) == len(desired) else sorted(targets)
    for delegator in ordered:
        if current_all is not None:
            current = current_all.get(delegator, [])
        else:
            current = schedule(conn, delegator)
        if not current:
            # A delegator the ledger has never weighted (every one, on a first start with a big
            # file): no rows to replace, and each change is from 0. The general path below gives
            # the same rows, changes and totals, at several times the cost.
            new_tail = _tail(desired.get(delegator, []), boundary, 0)
            if new_tail:
                _contribute(deltas, new_tail, 0, +1)
                added.extend((delegator, e, w) for e, w in new_tail)
                changes.extend(
                    DelegationChange(delegator, e, w, 0, delegations.source)
                    for e, w in new_tail
                    if w
                )
            continue
        wanted = desired.get(delegator, [])
        if current == wanted:
            continue  # the same schedule has the same tail: nothing to change (a restart)
        before = weight_at(current, boundary - 1)
        old_tail = _tail(current, boundary, before)
        new_tail = _tail(wanted, boundary, before)
        if old_tail == new_tail:
            continue
        _contribute(deltas, old_tail, before, -1)
        _contribute(deltas, new_tail, before, +1)
        removed.append((delegator, boundary))
        added.extend((delegator, e, w) for e, w in new_tail)
        updated = [p for p in current if p[0] < boundary] + new_tail
        for epoch in sorted({e for e, _ in old_tail} | {e for e, _ in new_tail}):
            old_weight, new_weight = weight_at(current, epoch), weight_at(updated, epoch)
            if old_weight != new_weight:
                changes.append(
                    DelegationChange(delegator, epoch, new_weight, old_weight, delegations.source)
                )
    conn.executemany("DELETE FROM delegator_weights WHERE delegator = ? AND epoch >= ?", removed)
    conn.executemany(
        "INSERT INTO delegator_weights (delegator, epoch, weight_gwei) VALUES (?, ?, ?)", added
    )
    _flush_changes(conn, deltas)
    conn.executemany(
        "INSERT INTO delegation_journal"
        " (delegator, effective_epoch, weight_gwei, previous_weight_gwei, source)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (c.delegator, c.effective_epoch, c.weight_gwei, c.previous_weight_gwei, c.source)
            for c in changes
        ],
    )
    _weight, count = totals_at(conn, boundary)
    weight_removed = sum(
        max(0, c.previous_weight_gwei - c.weight_gwei)
        for c in changes
        if c.effective_epoch == boundary
    )
    return DelegationApplyResult(
        effective_epoch=boundary,
        changes=changes,
        delegators=count,
        weight_before_gwei=weight_before,
        weight_removed_gwei=weight_removed,
    )


class Preview(Exception):
    """Raised by ``preview_delegations`` with what the change would do, so the transaction that
    computed it rolls back."""

    def __init__(self, result: DelegationApplyResult) -> None:
        super().__init__("dry run")
        self.result = result


def preview_delegations(
    conn: Connection,
    delegations: DelegationSet,
    *,
    effective_epoch: int | None = None,
    replace_all: bool = True,
    spare_source: str | None = None,
) -> DelegationApplyResult:
    """What ``apply_delegations`` would do, raised as ``Preview`` (run it inside ``Database.write``,
    whose rollback then undoes it): the one computation, never a second copy of the rules."""
    boundary = _boundary(conn, delegations, effective_epoch)
    mark = _mark(delegations, replace_all, spare_source)
    if mark is not None and delegations_applied.unchanged(conn, mark, boundary):
        raise Preview(_nothing_changes(conn, boundary))
    if not delegations_bulk.has_schedules(conn):
        # A first load's answer is its plan, known without writing a million rows only to roll
        # them back (the daemon previews every file before applying it): the totals are the
        # ledger's plus the plan's, as ``_flush_changes`` would leave them.
        weight_before, count_before = totals_at(conn, boundary)
        load = delegations_bulk.plan(delegations, boundary)
        merged = {int(e): int(w) for e, w in conn.execute(_WEIGHT_DELTAS).fetchall()}
        for epoch, (weight, _n) in load.deltas.items():
            merged[epoch] = merged.get(epoch, 0) + weight
        _check_total(sorted(merged.items()))
        count = count_before + load.count_at(boundary)
        raise Preview(DelegationApplyResult(boundary, load.changes, count, weight_before, 0))
    raise Preview(
        apply_delegations(
            conn,
            delegations,
            effective_epoch=effective_epoch,
            replace_all=replace_all,
            spare_source=spare_source,
        )
    )
