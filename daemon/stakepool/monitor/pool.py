"""The pool's validators as the chain knows them: configured refs resolved to indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from stakepool.chain.types import BLSPubkey, ValidatorIndex


class ValidatorRef(Protocol):
    """A configured pool validator (``config.ValidatorRef``): an index or a pubkey, a label."""

    @property
    def index(self) -> int | None: ...

    @property
    def pubkey(self) -> str | None: ...

    @property
    def label(self) -> str | None: ...

    @property
    def key(self) -> str:
        """The index or the pubkey as configured (for messages)."""
        ...


@dataclass(frozen=True, slots=True)
class PoolMember:
    index: ValidatorIndex
    pubkey: BLSPubkey
    label: str | None


@dataclass(frozen=True, slots=True)
class PoolResolution:
    members: tuple[PoolMember, ...]
    """Sorted by index."""
    unknown: tuple[str, ...]
    """Configured ids the chain does not know (yet): a pubkey not deposited, an index too high."""


def resolve_pool(refs: Sequence[ValidatorRef], known: Iterable[tuple[int, str]]) -> PoolResolution:
    """Match configured refs against ``(index, pubkey)`` pairs read from the chain."""
    by_index: dict[int, str] = {}
    by_pubkey: dict[str, int] = {}
    for known_index, known_pubkey in known:
        by_index[known_index] = known_pubkey.lower()
        by_pubkey[known_pubkey.lower()] = known_index
    members: dict[int, PoolMember] = {}
    unknown: list[str] = []
    for ref in refs:
        pubkey: str | None
        if ref.index is not None:
            index = ref.index
            pubkey = by_index.get(index)
        else:
            assert ref.pubkey is not None
            pubkey = ref.pubkey
            found = by_pubkey.get(pubkey)
            if found is None:
                unknown.append(ref.key)
                continue
            index = found
        if pubkey is None:
            unknown.append(ref.key)
            continue
        if index in members:
            continue  # the same validator named by index and by pubkey
        members[index] = PoolMember(ValidatorIndex(index), BLSPubkey(pubkey), ref.label)
    return PoolResolution(tuple(members[i] for i in sorted(members)), tuple(unknown))
