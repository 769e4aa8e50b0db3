"""Operator-tunable alert thresholds of the monitor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MonitorThresholds:
    """Operator-tunable alert thresholds."""

    missed_attestation_streak: int = 2
    """Consecutive missed attestations before an ``attestation_streak`` event."""
    finality_delay_epochs: int = 3
    """``current_epoch − finalized_epoch`` above this raises ``finality_delayed``."""
    sync_participation_low: float = 0.8
    """Seats signed / seats held below this in an epoch raises ``sync_participation_low``."""

    def __post_init__(self) -> None:
        if self.missed_attestation_streak < 1:
            raise ValueError("missed_attestation_streak must be at least 1")
        if self.finality_delay_epochs < 1:
            raise ValueError("finality_delay_epochs must be at least 1")
        if not 0.0 <= self.sync_participation_low <= 1.0:
            raise ValueError("sync_participation_low is a ratio in [0, 1]")
