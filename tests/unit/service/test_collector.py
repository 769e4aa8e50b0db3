"""The collector around an epoch: no full collection inside, the usual thresholds back after it
however the epoch ends, and two overlapping epochs (two daemons in one process) do not leave it
changed."""

from __future__ import annotations

import gc
import weakref

import pytest

from stakepool.service import collector


def test_no_full_collection_inside_an_epoch_and_the_thresholds_back_after() -> None:
    before = gc.get_threshold()
    with collector.without_full_collection():
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert old == collector.NO_FULL_COLLECTION
        assert gc.isenabled()  # the young generations are still collected
    assert gc.get_threshold() == before


def test_an_epoch_that_raises_still_gives_the_thresholds_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector.without_full_collection():
        raise RuntimeError("the beacon node went away")
    assert gc.get_threshold() == before


def test_overlapping_epochs_restore_once_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first = collector.without_full_collection()
    second = collector.without_full_collection()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[2] == collector.NO_FULL_COLLECTION  # the second still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_the_quiet_point_frees_the_epochs_cycles() -> None:
    """Cyclic garbage made during the epoch is gone once the epoch is over."""

    class Node:
        other: object = None

    gc.collect()
    with collector.without_full_collection():
        alive = []
        for _ in range(100):
            a, b = Node(), Node()
            a.other, b.other = b, a
            alive.append(weakref.ref(a))
        del a, b
    assert not any(ref() is not None for ref in alive)
    assert collector.STATS.last_collected > 0
