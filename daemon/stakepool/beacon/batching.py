"""Validator id lists: normalisation, chunking, and merging the chunks' answers.

An empty id list means "the whole registry" to the API (about 1 GB of JSON on mainnet), so the
client never sends one: callers get an empty answer instead, without a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models.wire import Envelope

GET_MAX_IDS = 64
"""The spec's ``maxItems`` for repeated ``id=`` query parameters."""

_PUBKEY = re.compile(r"0x[0-9a-fA-F]{96}")
_DECIMAL = re.compile(r"[0-9]{1,20}")

T = TypeVar("T")
D = TypeVar("D")


def normalize_id(value: int | str) -> str:
    """A validator id as the API wants it: a decimal index, or a lower-case ``0x`` pubkey."""
    if isinstance(value, bool):
        raise ValueError(f"not a validator id: {value!r}")
    if isinstance(value, int):
        if 0 <= value < 2**64:
            return str(value)
        raise ValueError(f"validator index out of range: {value}")
    if isinstance(value, str):
        if _PUBKEY.fullmatch(value):
            return value.lower()
        if _DECIMAL.fullmatch(value) and int(value) < 2**64:
            return str(int(value))  # no leading zeros: Teku matches index strings exactly
    raise ValueError(f"not a validator index or 0x pubkey: {value!r}")


def normalize_ids(values: Iterable[int | str]) -> list[str]:
    """Normalised, de-duplicated, order kept."""
    items = list(values)
    plain = _plain_indices(items)
    if plain is not None:
        return plain
    return list(dict.fromkeys(normalize_id(v) for v in items))


def _plain_indices(items: list[Any]) -> list[str] | None:
    """The common case at scale, 100,000 plain indices in range, written in a few passes in C
    rather than one call each (deduplicated as ints, then written: distinct ints are distinct
    decimals; at 100,000 ids two thirds to half the time); None for anything else."""
    if items and set(map(type, items)) == {int} and min(items) >= 0 and max(items) < 2**64:
        return list(map(str, dict.fromkeys(items)))
    return None


def normalize_indices(values: Iterable[int]) -> list[str]:
    """For endpoints that take indices only (duties, liveness)."""
    items = list(values)
    plain = _plain_indices(items)
    if plain is not None:
        return plain
    out: list[str] = []
    for value in items:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"not a validator index: {value!r}")
        out.append(normalize_id(value))
    return list(dict.fromkeys(out))


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    if size < 1:
        raise ValueError(f"chunk size must be ≥ 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_envelopes(parts: Sequence[Envelope[tuple[T, ...]]]) -> Envelope[tuple[T, ...]]:
    """One answer from the answers to each chunk.

    Optimistic if any part was; finalized only if every part said so (unknown if any was unknown);
    the dependent root must be the same in every part, or the duties came from different forks.
    """
    return merge_envelopes_with(parts, lambda data: tuple(item for d in data for item in d), ())


def merge_envelopes_with(
    parts: Sequence[Envelope[D]], concat: Callable[[Sequence[D]], D], empty: D
) -> Envelope[D]:
    """``merge_envelopes`` for any kind of ``data``: ``concat`` joins the parts' data in order
    (columns end to end); ``empty`` is the data of no part at all."""
    # model_construct: the parts are validated already; re-validating 100k items costs seconds.
    if not parts:
        return Envelope[D].model_construct(
            data=empty,
            execution_optimistic=False,
            finalized=None,
            version=None,
            dependent_root=None,
        )
    finalized: bool | None = True
    for part in parts:
        if part.finalized is False:
            finalized = False
            break
        if part.finalized is None:
            finalized = None
    roots = {p.dependent_root for p in parts}
    if len(roots) > 1:
        raise InconsistentAnswer(
            "batched request", f"dependent_root changed between chunks: {sorted(map(str, roots))}"
        )
    return Envelope[D].model_construct(
        data=concat([p.data for p in parts]),
        execution_optimistic=any(p.execution_optimistic for p in parts),
        finalized=finalized,
        version=parts[0].version,
        dependent_root=parts[0].dependent_root,
    )
