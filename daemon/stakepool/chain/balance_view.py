"""The pool's balances at a state, by validator, over the two columns they were read as.

Each closed epoch's report holds the pool's balances, and the one before for the change. As a
dict of 100,000 entries, each with a fresh int for its key and its value, they cost ~11 MB per
epoch held, twice, and a copy for the metrics; this view keeps the answer's own arrays (16 bytes
a validator) and builds its index of rows only when a balance is looked up by validator.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping

from stakepool.chain.types import Gwei, ValidatorIndex


class BalanceView(Mapping[ValidatorIndex, Gwei]):
    """``index[i]`` has balance ``balance[i]``; every index once (the caller checks)."""

    __slots__ = ("_rows", "balance", "index")

    def __init__(self, index: array[int], balance: array[int]) -> None:
        if len(index) != len(balance):
            raise ValueError("a balance for every index")
        self.index = index
        self.balance = balance
        self._rows: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[ValidatorIndex]:
        return iter(self.index)  # type: ignore[arg-type]  # NewType of int

    def _row_of(self) -> dict[int, int]:
        if self._rows is None:
            self._rows = dict(zip(self.index, range(len(self.index)), strict=True))
        return self._rows

    def __getitem__(self, key: ValidatorIndex) -> Gwei:
        return Gwei(self.balance[self._row_of()[key]])

    def __contains__(self, key: object) -> bool:
        return key in self._row_of()

    def total(self) -> int:
        return sum(self.balance)

    def same_validators(self, other: BalanceView) -> bool:
        """The same validators in the same order (the usual case from one epoch to the next)."""
        return self.index == other.index
