"""Validator id normalisation, chunking, and merging the chunks' answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.batching import (
    chunks,
    merge_envelopes,
    normalize_id,
    normalize_ids,
    normalize_indices,
)
from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models import Envelope, SyncCommitteeReward, ValidatorStatus
from stakepool.beacon.queries.rewards import sum_sync_rewards
from stakepool.beacon.queries.state import expand_statuses
from stakepool.chain.types import Root

PUBKEY = "0x" + "AB" * 48


def test_ids_are_normalised_and_deduplicated() -> None:
    assert normalize_ids([3, "3", "007", PUBKEY, PUBKEY.lower(), 0]) == [
        "3",
        "7",
        PUBKEY.lower(),
        "0",
    ]


@pytest.mark.parametrize("bad", [True, -1, 2**64, "abc", "0x12", "1.5", 1.5, None, ""])
def test_bad_ids_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="validator"):
        normalize_id(bad)  # type: ignore[arg-type]


def test_indices_only_where_the_api_takes_indices() -> None:
    assert normalize_indices([5, 5, 6]) == ["5", "6"]
    with pytest.raises(ValueError, match="index"):
        normalize_indices([PUBKEY])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("n", "size", "sizes"),
    [(0, 64, []), (64, 64, [64]), (65, 64, [64, 1]), (200, 64, [64, 64, 64, 8]), (5, 1, [1] * 5)],
)
def test_chunks(n: int, size: int, sizes: list[int]) -> None:
    items = list(range(n))
    parts = list(chunks(items, size))
    assert [len(p) for p in parts] == sizes
    assert [x for p in parts for x in p] == items


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk size"):
        list(chunks([1], 0))


def env(
    data: tuple[int, ...],
    *,
    opt: bool = False,
    fin: bool | None = None,
    root: Root | None = None,
) -> Envelope[tuple[int, ...]]:
    return Envelope[tuple[int, ...]].model_construct(
        data=data, execution_optimistic=opt, finalized=fin, version=None, dependent_root=root
    )


def test_merge_metadata() -> None:
    merged = merge_envelopes([env((1, 2), fin=True), env((3,), fin=True, opt=True)])
    assert merged.data == (1, 2, 3)
    assert merged.execution_optimistic is True
    assert merged.finalized is True
    assert merge_envelopes([env((1,), fin=True), env((2,))]).finalized is None
    assert merge_envelopes([env((1,)), env((2,), fin=False)]).finalized is False
    empty: Envelope[tuple[int, ...]] = merge_envelopes([])
    assert empty.data == ()
    assert empty.finalized is None


def test_merge_refuses_mixed_dependent_roots() -> None:
    a, b = Root("0x" + "11" * 32), Root("0x" + "22" * 32)
    assert merge_envelopes([env((1,), root=a), env((2,), root=a)]).dependent_root == a
    with pytest.raises(InconsistentAnswer):
        merge_envelopes([env((1,), root=a), env((2,), root=b)])


def test_status_groups_expand_to_sub_statuses() -> None:
    assert expand_statuses(None) == []
    assert expand_statuses(["active", ValidatorStatus.EXITED_SLASHED, "active_ongoing"]) == [
        "active_ongoing",
        "active_exiting",
        "active_slashed",
        "exited_slashed",
    ]
    with pytest.raises(ValueError, match="unknown validator status"):
        expand_statuses(["bogus"])


def test_sync_rewards_are_summed_per_validator() -> None:
    rows = [
        SyncCommitteeReward.model_validate({"validator_index": i, "reward": r})
        for i, r in (("12", "1416"), ("900", "-1416"), ("12", "1416"))
    ]
    summed = sum_sync_rewards(rows)
    assert [(r.validator_index, r.reward) for r in summed] == [(12, 2832), (900, -1416)]


@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**64 - 1]), max_size=60))
def test_plain_indices_are_written_once_each_in_first_seen_order(ids: list[int]) -> None:
    assert normalize_ids(ids) == list(dict.fromkeys(normalize_id(i) for i in ids))


@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 7, 2**64 - 1]), max_size=60))
def test_indices_for_duties_are_written_once_each_in_first_seen_order(ids: list[int]) -> None:
    assert normalize_indices(ids) == list(dict.fromkeys(str(i) for i in ids))


def test_indices_for_duties_refuse_what_is_not_an_index() -> None:
    for bad in ([True], [1, -1], [2**64], [1, "1"]):
        with pytest.raises(ValueError, match=r"not a validator index|out of range"):
            normalize_indices(bad)  # type: ignore[arg-type]
