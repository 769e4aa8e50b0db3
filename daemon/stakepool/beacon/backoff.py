"""Exponential backoff with jitter: a pure schedule, so its bounds are testable."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``attempt`` (0-based): ``base·factor^attempt`` capped at ``maximum``,
    then reduced by up to ``jitter`` (a fraction) at random, so that many clients that failed
    together do not retry together."""

    base: float = 0.25
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base < 0 or self.maximum < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid backoff {self!r}")

    def ceiling(self, attempt: int) -> float:
        """The delay before jitter."""
        # Cap the exponent first: factor**attempt overflows float for large attempt counts.
        exponent = min(max(attempt, 0), 64)
        return min(self.maximum, self.base * self.factor**exponent)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        top = self.ceiling(attempt)
        draw = (rng or _RNG).random()
        return top * (1.0 - self.jitter * draw)


_RNG = random.Random()
