"""Backoff schedule: exponential, capped, jittered within bounds."""

from __future__ import annotations

import random

import pytest

from stakepool.beacon.backoff import Backoff


def test_ceiling_grows_then_caps() -> None:
    b = Backoff(base=0.5, factor=2, maximum=5, jitter=0.5)
    assert [b.ceiling(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert b.ceiling(10_000) == 5.0  # no float overflow


@pytest.mark.parametrize("attempt", [0, 1, 3, 8, 100])
def test_jitter_stays_within_bounds(attempt: int) -> None:
    b = Backoff(base=0.25, factor=2, maximum=30, jitter=0.5)
    rng = random.Random(attempt)
    top = b.ceiling(attempt)
    delays = [b.delay(attempt, rng) for _ in range(500)]
    assert all(top * 0.5 <= d <= top for d in delays)
    assert len({round(d, 9) for d in delays}) > 100  # actually jittered


def test_no_jitter_is_deterministic() -> None:
    b = Backoff(base=1, factor=3, maximum=100, jitter=0)
    assert [b.delay(a) for a in range(4)] == [1, 3, 9, 27]


@pytest.mark.parametrize(
    "kwargs", [{"base": -1}, {"factor": 0.5}, {"jitter": 1.5}, {"maximum": -2}]
)
def test_invalid_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(**kwargs)
