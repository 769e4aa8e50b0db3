"""What the ledger's tables hold exactly, checked before an epoch is written.

Amounts are SQLite INTEGER (signed 64 bits) and the reads sum them in SQL (pool totals over every
epoch, a validator's final rewards over the epochs being finalized), so a value the wire admits
(a balance of 2⁶⁴−1 Gwei is a valid uint64) must not reach a column or a sum it overflows. We
refuse such an epoch whole, with the value named, rather than widen every column:

* each validator's reward in one epoch is at most ``MAX_VALIDATOR_EPOCH_GWEI`` in magnitude:
  2⁴⁴ Gwei (17.6 million ETH), over 8,000 times the largest effective balance (2,048 ETH), which
  bounds what a validator can earn or lose in an epoch once deposits, withdrawals and
  consolidations are taken out (a fully correlated slashing takes at most its effective balance).
  A reading past it is a lying or broken node, not a reward; and per validator, 2¹⁹ epochs of
  such extremes would still not overflow a sum (real ones are a billion times smaller);
* the pool's columns keep Σ|value| over every settled epoch within 2⁶³−1, so no partial sum of
  the pool totals can overflow either (one aggregate over one row per epoch).

A refused epoch is a ``LedgerRangeError`` (a ``LedgerError``): nothing is written, the daemon keeps
running and tries the epoch again at the next close, when the node may answer sanely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

from stakepool.ledger.settlement import EpochSettlement, EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.interface import LedgerError
from stakepool.store.detail_columns import DetailColumns
from stakepool.store.engine import Connection

MAX_INTEGER = 2**63 - 1
"""SQLite INTEGER, PostgreSQL ``bigint``: the same range (a SUM over them is exact on both:
SQLite's integer sum, PostgreSQL's ``numeric``)."""
MAX_VALIDATOR_EPOCH_GWEI = 2**44

_POOL_COLUMNS = (
    "reward_cl_gwei",
    "reward_el_gwei",
    "reward_gwei",
    "fee_gwei",
    "bond_delta_gwei",
    "unassigned_gwei",
    "distributed_gwei",
)

_POOL_ABS_SUMS = ", ".join(f"COALESCE(SUM(ABS({c})), 0)" for c in _POOL_COLUMNS)
_POOL_SUMS_SQL = "SELECT " + _POOL_ABS_SUMS + " FROM ledger_epochs WHERE epoch != ?"  # noqa: S608
_POOL_SUMS_BETWEEN_SQL = (
    "SELECT " + _POOL_ABS_SUMS + " FROM ledger_epochs WHERE epoch BETWEEN ? AND ?"  # noqa: S608
)
_POOL_SUMS_AFTER_SQL = (
    "SELECT " + _POOL_ABS_SUMS + " FROM ledger_epochs WHERE epoch > ? AND epoch != ?"  # noqa: S608
)


@dataclass(frozen=True, slots=True)
class FinalPoolSums:
    """Σ|value| of each pool column over the epochs up to ``epoch``, every one final when read."""

    epoch: int
    digest: str
    """``epoch``'s input digest: the row they were read with (checked before they are used)."""
    sums: tuple[int, ...]


@dataclass(slots=True)
class PoolSums:
    """The pool's bound over the final epochs, carried by the store from one settle transaction
    to the next.

    Why: Σ|value| over every settled epoch is a scan of ``ledger_epochs`` on every settle, which
    grows with the ledger's age (~30 ms at a year of mainnet epochs). A final row's money never
    changes and final rows are never deleted (the schema's triggers; a reversal stops at them,
    retention keeps the pool's ledger), so their sums, once read, only grow by the epochs
    finalized since: a settle reads those and the provisional tail. ``known`` is what an earlier
    transaction read (used only while its last row is still there, final, with the same digest —
    a late explanation may change a final row's digest, migration 0010: everything is then read
    again once);
    ``final`` what this one read, which the store keeps once the transaction committed."""

    known: FinalPoolSums | None = None
    final: FinalPoolSums | None = None


class LedgerRangeError(LedgerError):
    """An epoch whose figures the ledger cannot hold exactly: refused whole, nothing written."""


HINT = "refused, nothing written; what the nodes answered for this epoch is not credible"

TOTAL_MARGIN = MAX_INTEGER - MAX_VALIDATOR_EPOCH_GWEI
"""A running total within ±this cannot leave ±``MAX_INTEGER`` by one more epoch's reward (each
within ±``MAX_VALIDATOR_EPOCH_GWEI``, checked first)."""


def check_epoch(
    conn: Connection,
    inp: EpochSettlementInput,
    settlement: EpochSettlement,
    columns: DetailColumns | None = None,
    *,
    running_totals: bool = True,
    pool_sums: PoolSums | None = None,
) -> None:
    """Raise ``LedgerRangeError`` unless every value ``settle`` writes for ``inp`` fits.

    ``columns``: ``inp.validators`` read into columns (``detail_columns.read_columns``), checked
    by numpy's min/max instead of passes over the rows. ``running_totals=False``: the caller
    moves the totals by a statement that checks them itself (``totals_sql.add_epoch``'s guard,
    which then calls ``check_validator_totals``), so the aggregate over every total is left out.
    ``pool_sums``: the pool's sums over the final epochs known from an earlier settle (the store's),
    so only the epochs after them are read."""
    fits = _validators_fit(inp.validators) if columns is None else _columns_fit(columns)
    if not fits:
        _refuse_validators(inp, HINT)
    if running_totals and not _totals_far_from_bounds(conn):
        check_validator_totals(conn, inp)
    _check_pool(conn, inp, settlement, pool_sums)


def _validators_fit(rows: Sequence[ValidatorEpochRow]) -> bool:
    """Whether every row fits, by C-level min/max over each figure: the common case costs a few
    ms at 100,000 validators (a message is built only when something does not fit)."""
    if not rows:
        return True
    indices = list(map(attrgetter("validator_index"), rows))
    if min(indices) < 0 or max(indices) > MAX_INTEGER:
        return False
    if max(map(abs, map(attrgetter("reward_gwei"), rows))) > MAX_VALIDATOR_EPOCH_GWEI:
        return False
    residuals = [r for r in map(attrgetter("residual_gwei"), rows) if r is not None]
    if residuals and max(map(abs, residuals)) > MAX_INTEGER:
        return False
    components = chain.from_iterable(
        c.values() for c in map(attrgetter("components_gwei"), rows) if c
    )
    return max(map(abs, components), default=0) <= MAX_INTEGER


def _columns_fit(cols: DetailColumns) -> bool:
    """``_validators_fit`` of the same rows. An int64 column already holds every value within
    ±2⁶³ (``-2⁶³`` itself is past ``MAX_INTEGER``'s symmetric bound, hence the minima)."""
    if cols.count == 0:
        return True
    if int(cols.index.min()) < 0:
        return False
    reward = cols.reward
    if (
        int(reward.min()) < -MAX_VALIDATOR_EPOCH_GWEI
        or int(reward.max()) > MAX_VALIDATOR_EPOCH_GWEI
    ):
        return False
    explained = [] if cols.residual is None else [cols.residual, *cols.components.values()]
    return all(int(a.min()) >= -MAX_INTEGER for a in explained if len(a))


def _totals_far_from_bounds(conn: Connection) -> bool:
    """Whether no validator's running total can leave ±``MAX_INTEGER`` by one more epoch: every
    stored total within ``MAX_VALIDATOR_EPOCH_GWEI`` of the bound's inside, and every reward of
    the epoch within it (checked first). One aggregate over the table instead of reading 100,000
    totals back; the exact per-validator check runs only when a total is that close."""
    low, high = conn.execute(
        "SELECT MIN(reward_total_gwei), MAX(reward_total_gwei) FROM validator_totals"
    ).fetchone()
    if low is None:
        return True  # no totals yet
    return int(low) >= -TOTAL_MARGIN and int(high) <= TOTAL_MARGIN


def _refuse_validators(inp: EpochSettlementInput, hint: str) -> None:
    """Raise ``LedgerRangeError`` naming the first row that does not fit."""
    for v in inp.validators:
        if not 0 <= v.validator_index <= MAX_INTEGER:
            raise LedgerRangeError(
                f"epoch {inp.epoch}: validator index {v.validator_index} is beyond what the"
                f" ledger stores (0..{MAX_INTEGER}): {hint}"
            )
        _bounded(
            f"epoch {inp.epoch}: validator {v.validator_index}'s reward",
            v.reward_gwei,
            MAX_VALIDATOR_EPOCH_GWEI,
            hint,
        )
        for name, value in (v.components_gwei or {}).items():
            _bounded(
                f"epoch {inp.epoch}: validator {v.validator_index}'s {name}",
                value,
                MAX_INTEGER,
                hint,
            )
        if v.residual_gwei is not None:
            _bounded(
                f"epoch {inp.epoch}: validator {v.validator_index}'s residual",
                v.residual_gwei,
                MAX_INTEGER,
                hint,
            )


def _pool_sums(conn: Connection, epoch: int, pool: PoolSums) -> list[int]:
    """``_POOL_SUMS_SQL``'s row, read as the final epochs' known sums plus the epochs after them
    (``pool.final`` set to the final epochs' sums, extended by the newly final ones)."""
    known = pool.final or pool.known
    if known is not None:
        row = conn.execute(
            "SELECT status, input_digest FROM ledger_epochs WHERE epoch = ?", (known.epoch,)
        ).fetchone()
        if row is None or row[0] != "final" or row[1] != known.digest:
            known = None  # another ledger than the one they were read from: read it all
    start = -1 if known is None else known.epoch
    # The epochs after ``start`` up to the first provisional one are final (few: those
    # finalized since the last settle; every final one the first time).
    row = conn.execute(
        "SELECT epoch FROM ledger_epochs WHERE epoch > ? AND status = 'provisional'"
        " ORDER BY epoch LIMIT 1",
        (start,),
    ).fetchone()
    if row is not None:
        end = int(row[0]) - 1
    else:
        last = conn.execute("SELECT MAX(epoch) FROM ledger_epochs").fetchone()[0]
        end = start if last is None else int(last)
    newest = conn.execute(
        "SELECT epoch, input_digest FROM ledger_epochs WHERE epoch BETWEEN ? AND ?"
        " ORDER BY epoch DESC LIMIT 1",
        (start + 1, end),
    ).fetchone()
    if newest is None:
        end = start  # no epoch final since
    else:
        end = int(newest[0])
        base = [0] * len(_POOL_COLUMNS) if known is None else list(known.sums)
        added = conn.execute(_POOL_SUMS_BETWEEN_SQL, (start + 1, end)).fetchone()
        sums = tuple(b + int(a) for b, a in zip(base, added, strict=True))
        known = FinalPoolSums(end, str(newest[1]), sums)
    pool.final = known
    tail = conn.execute(_POOL_SUMS_AFTER_SQL, (end, epoch)).fetchone()
    if known is None:
        return [int(t) for t in tail]
    return [b + int(t) for b, t in zip(known.sums, tail, strict=True)]


def _check_pool(
    conn: Connection,
    inp: EpochSettlementInput,
    settlement: EpochSettlement,
    pool_sums: PoolSums | None,
) -> None:
    hint = HINT
    values = [getattr(settlement, c) for c in _POOL_COLUMNS]
    for column, value in zip(_POOL_COLUMNS, values, strict=True):
        if value is not None:
            _bounded(f"epoch {inp.epoch}: the pool's {column}", value, MAX_INTEGER, hint)
    _bounded(
        f"epoch {inp.epoch}: total_weight_gwei", settlement.total_weight_gwei, MAX_INTEGER, hint
    )
    if pool_sums is None:
        sums = conn.execute(_POOL_SUMS_SQL, (inp.epoch,)).fetchone()
    else:
        sums = _pool_sums(conn, inp.epoch, pool_sums)
    for column, before, value in zip(_POOL_COLUMNS, sums, values, strict=True):
        _bounded(
            f"epoch {inp.epoch}: the pool's Σ|{column}| over every settled epoch",
            int(before) + abs(value or 0),
            MAX_INTEGER,
            hint,
        )


def check_validator_totals(conn: Connection, inp: EpochSettlementInput) -> None:
    """Raise ``LedgerRangeError`` naming the first validator whose running total would leave
    ±``MAX_INTEGER`` with ``inp``'s reward (the exact check, for totals near the bound)."""
    indices = [v.validator_index for v in inp.validators]
    totals: dict[int, int] = {}
    for chunk in _chunks(indices, 500):
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT validator_index, reward_total_gwei FROM validator_totals"  # noqa: S608
            f" WHERE validator_index IN ({marks})",
            chunk,
        )
        totals.update((int(r[0]), int(r[1])) for r in rows)
    running = [totals.get(v.validator_index, 0) + v.reward_gwei for v in inp.validators]
    if max(map(abs, running), default=0) <= MAX_INTEGER:
        return  # the common case: no message built for 100,000 rows
    for v, total in zip(inp.validators, running, strict=True):
        _bounded(
            f"epoch {inp.epoch}: validator {v.validator_index}'s running total",
            total,
            MAX_INTEGER,
            HINT,
        )


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bounded(what: str, value: int, bound: int, hint: str) -> None:
    if -bound <= value <= bound:
        return
    raise LedgerRangeError(f"{what} of {value} Gwei is beyond ±{bound} Gwei: {hint}")
