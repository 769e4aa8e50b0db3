"""What settling an epoch computes from its input alone, done before its write transaction.

Why: the writer serves every write of the daemon one at a time, and at 100,000 validators reading
the rows into columns, digesting and packing them takes ~0.3 s of CPU that needs no database.
``SqliteLedger.settle`` prepares the epoch on a worker thread first, so the transaction holds the
writer only for its SQL (``ledger_write.settle`` prepares it itself when called without).
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.settle_digest import settle_digest
from stakepool.ledger.store.totals_sql import EpochRewards, epoch_rewards
from stakepool.store.detail_columns import DetailColumns, read_columns, split_columns
from stakepool.store.detail_pack import PackError, split
from stakepool.store.engine import EngineName


@dataclass(frozen=True, slots=True)
class PreparedEpoch:
    input: EpochSettlementInput
    columns: DetailColumns | None
    """``None``: an irregular epoch (checked from its rows)."""
    digest: str
    blobs: tuple[bytes, bytes | None] | None
    """The detail's two blobs; ``None``: no validators, or rows the packer refuses (packed again
    at the write, after the bounds check has named what it refuses)."""
    rewards: EpochRewards | None = None
    """The validator totals' parameter (``totals_sql.epoch_rewards``); ``None``: an irregular
    epoch (its rows are upserted as they are)."""


def prepare(inp: EpochSettlementInput, engine: EngineName = "sqlite") -> PreparedEpoch:
    """``engine``: the database's (``Database.dialect.name``), whose parameter is built."""
    columns = read_columns(inp.validators)
    blobs: tuple[bytes, bytes | None] | None = None
    if inp.validators:
        try:
            blobs = split(inp.validators) if columns is None else split_columns(columns)
        except PackError:
            blobs = None
    rewards = None if columns is None else epoch_rewards(columns, engine)
    return PreparedEpoch(inp, columns, settle_digest(inp, columns), blobs, rewards)
