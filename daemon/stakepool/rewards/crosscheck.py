"""Two beacon nodes' views of the pool's balances over one epoch, compared (pure).

A client bug that pays or penalises wrongly shows as a different balance change of a validator
over the same epoch on two nodes. The change (``after − before``) is compared, not the balance:
an error in one epoch then shows in that epoch only, not in every later one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Disagreement:
    validator_index: int
    primary_delta_gwei: int | None
    witness_delta_gwei: int | None
    """None: that node did not report the validator at both ends of the epoch."""


Votes = tuple[int, int, int]
"""A validator's attestation rewards for an epoch, ``(head, target, source)`` Gwei: the node's
verdict on its votes (negative: missed or wrong)."""


@dataclass(frozen=True, slots=True)
class VoteDisagreement:
    validator_index: int
    primary: Votes | None
    witness: Votes | None
    """None: that node's rewards endpoint did not list the validator."""


@dataclass(frozen=True, slots=True)
class CrossCheckDisagreement:
    """Told on the bus (and logged as a warning) when the witness disagrees about an epoch."""

    epoch: int
    primary: str
    witness: str
    validators: tuple[Disagreement, ...]
    votes: tuple[VoteDisagreement, ...] = ()
    """Validators whose attestation verdict (rewards) differs; empty when the verdicts agree or
    one node cannot tell (no rewards endpoint)."""


def _delta(before: Mapping[int, int], after: Mapping[int, int], index: int) -> int | None:
    if index not in before or index not in after:
        return None
    return after[index] - before[index]


def compare(
    indices: list[int],
    primary: tuple[Mapping[int, int], Mapping[int, int]],
    witness: tuple[Mapping[int, int], Mapping[int, int]],
) -> tuple[Disagreement, ...]:
    """``primary``/``witness``: (balances at the end of the previous epoch, at the end of this
    one), by index. The validators whose change differs, by index."""
    out = []
    for index in sorted(set(indices)):
        p = _delta(*primary, index)
        w = _delta(*witness, index)
        if p != w:
            out.append(Disagreement(index, p, w))
    return tuple(out)


def compare_votes(
    indices: list[int], primary: Mapping[int, Votes], witness: Mapping[int, Votes]
) -> tuple[VoteDisagreement, ...]:
    """The validators whose attestation rewards differ between the nodes, by index."""
    return tuple(
        VoteDisagreement(i, primary.get(i), witness.get(i))
        for i in sorted(set(indices))
        if primary.get(i) != witness.get(i)
    )
