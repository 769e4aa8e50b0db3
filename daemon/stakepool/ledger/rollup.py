"""A period's per-validator roll-up: the exact sums of the epochs' detail it replaces (pure).

The retention (``ledger/retention.py``) adds each final epoch's rows of one statement period
(``[ledger] statement_period_epochs``; 225 epochs = one mainnet UTC day) into one ``DaySum`` per
validator; the sums are integers (any size), so the roll-up is exactly the detail's total and
``matches`` can say whether stored rows are exactly what was summed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stakepool.store.detail_pack import DetailLike


@dataclass(slots=True)
class DaySum:
    """One validator's figures over the epochs of one period that hold it."""

    validator_index: int
    first_epoch: int
    last_epoch: int
    epochs: int = 0
    reward_gwei: int = 0
    attestations_included: int = 0
    attestations_missed: int = 0
    proposals: int = 0
    proposals_missed: int = 0
    residual_gwei: int | None = None
    """Σ of the explained epochs' residuals; None when no epoch of the period was explained."""
    components_gwei: dict[str, int] | None = None
    """Σ per component over the explained epochs, components summing to 0 left out; None when
    no epoch was explained."""

    def add(self, epoch: int, row: DetailLike) -> None:
        self.first_epoch = min(self.first_epoch, epoch)
        self.last_epoch = max(self.last_epoch, epoch)
        self.epochs += 1
        self.reward_gwei += row.reward_gwei
        if row.attestation_included is True:
            self.attestations_included += 1
        elif row.attestation_included is False:
            self.attestations_missed += 1
        self.proposals += row.proposals
        self.proposals_missed += row.proposals_missed
        if row.residual_gwei is not None:
            self.residual_gwei = (self.residual_gwei or 0) + row.residual_gwei
        if row.components_gwei is not None:
            sums = self.components_gwei if self.components_gwei is not None else {}
            for name, amount in row.components_gwei.items():
                sums[name] = sums.get(name, 0) + amount
            # A component that sums to 0 is left out (absent reads as 0): most validators earn no
            # proposer, sync, inactivity or slashing figures, and each name costs bytes per row.
            self.components_gwei = {name: amount for name, amount in sums.items() if amount}


@dataclass(frozen=True, slots=True)
class DayRow:
    """One validator's roll-up of one period, as the API and the export show it."""

    period: int
    sums: DaySum


@dataclass(slots=True)
class PeriodRollup:
    """Every validator's ``DaySum`` of one period, and the epochs added."""

    period: int
    sums: dict[int, DaySum] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)

    def add_epoch(self, epoch: int, rows: Iterable[DetailLike]) -> None:
        if self.epochs and epoch <= self.epochs[-1]:
            raise ValueError(
                f"epochs are added once and in order ({epoch} after {self.epochs[-1]})"
            )
        self.epochs.append(epoch)
        for row in rows:
            day = self.sums.get(row.validator_index)
            if day is None:
                day = self.sums[row.validator_index] = DaySum(row.validator_index, epoch, epoch)
            day.add(epoch, row)

    @property
    def reward_gwei(self) -> int:
        return sum(d.reward_gwei for d in self.sums.values())

    def matches(self, stored: Mapping[int, DaySum]) -> str | None:
        """None when ``stored`` is exactly these sums, else the first difference, said."""
        if set(stored) != set(self.sums):
            missing = sorted(set(self.sums) - set(stored))[:5]
            extra = sorted(set(stored) - set(self.sums))[:5]
            return f"validators differ (missing {missing}, unexpected {extra})"
        for index, day in self.sums.items():
            if stored[index] != day:
                return f"validator {index}: stored {stored[index]} != summed {day}"
        return None


def period_of(epoch: int, period_epochs: int) -> int:
    return epoch // period_epochs


def period_bounds(period: int, period_epochs: int) -> tuple[int, int]:
    return period * period_epochs, (period + 1) * period_epochs - 1
