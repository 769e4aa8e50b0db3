"""The pool's membership over time: who joins and who leaves, from which epoch (pure).

Keys come from several sources (``[pool] validators``/``validators_file``, validator clients'
keymanagers); the pool is their union. A validator in no source any more is *retired* — it stops
being monitored and paid from the change's epoch on — never forgotten: its ledger rows stay and the
journal says when and why it left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Change = Literal["added", "retired"]


@dataclass(frozen=True, slots=True)
class MembershipChange:
    validator_index: int
    pubkey: str
    change: Change
    effective_epoch: int
    sources: tuple[str, ...]
    """Who vouches for the key after the change (``config``, ``vc:<name>``); empty for a
    retirement."""


def diff_members(
    before: Mapping[int, str],
    after: Mapping[int, str],
    *,
    effective_epoch: int,
    sources: Mapping[int, tuple[str, ...]],
) -> tuple[MembershipChange, ...]:
    """The journal entries that take the pool from ``before`` to ``after`` (index → pubkey),
    retirements first, each group by index."""
    retired = [
        MembershipChange(i, before[i], "retired", effective_epoch, ())
        for i in sorted(set(before) - set(after))
    ]
    added = [
        MembershipChange(i, after[i], "added", effective_epoch, sources.get(i, ()))
        for i in sorted(set(after) - set(before))
    ]
    return (*retired, *added)


def active_after(changes: list[MembershipChange]) -> dict[int, str]:
    """The members the journal leaves active (entries oldest first)."""
    active: dict[int, str] = {}
    for c in changes:
        if c.change == "added":
            active[c.validator_index] = c.pubkey
        else:
            active.pop(c.validator_index, None)
    return active
