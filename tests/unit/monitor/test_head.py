"""Closed epochs are reported once each, in order, whatever the head does."""

from __future__ import annotations

from stakepool.monitor.head import HeadTracker

R = "0x" + "11" * 32


def test_start_reports_only_the_previous_epoch() -> None:
    t = HeadTracker(slots_per_epoch=8)
    assert t.on_head(43, R) == [4]  # head in epoch 5: epoch 4 just closed; history is not replayed
    assert t.on_head(44, R) == []
    assert t.on_head(48, R) == [5]


def test_genesis_start_closes_epoch_zero_later() -> None:
    t = HeadTracker(slots_per_epoch=8)
    assert t.on_head(0, R) == []
    assert t.on_head(7, R) == []
    assert t.on_head(8, R) == [0]


def test_empty_slots_across_several_epochs_close_each_epoch_once() -> None:
    t = HeadTracker(slots_per_epoch=8)
    t.on_head(9, R)  # epoch 1; closes 0
    assert t.on_head(33, R) == [1, 2, 3]  # slots 10..32 empty: epochs 1, 2, 3 closed together
    assert t.on_head(34, R) == []


def test_head_going_back_closes_nothing_and_never_reopens() -> None:
    t = HeadTracker(slots_per_epoch=8)
    t.on_head(16, R)
    assert t.on_head(15, R) == []  # a reorg onto a shorter chain
    assert t.head is not None
    assert t.head.slot == 15
    assert t.on_head(16, R) == []  # epoch 1 was already reported
    assert t.on_head(24, R) == [2]


def test_finality_only_moves_forward() -> None:
    t = HeadTracker(slots_per_epoch=8)
    assert not t.on_checkpoints(1, 0)  # no head yet
    t.on_head(40, R)
    assert t.on_checkpoints(4, 3)
    assert not t.on_checkpoints(3, 2)  # a lagging node's answer does not move finality back
    assert t.head is not None
    assert (t.head.justified_epoch, t.head.finalized_epoch) == (4, 3)
    t.on_head(41, R)
    assert t.head.finalized_epoch == 3


def test_resume_reports_every_epoch_missed_while_down() -> None:
    t = HeadTracker(slots_per_epoch=8, resume_from=3, max_catch_up=4)
    assert t.on_head(43, R) == [3, 4]  # down during epoch 3: both closed epochs, in order
    assert t.skipped is None
    assert t.on_head(48, R) == [5]


def test_resume_after_a_long_gap_skips_it_and_says_so() -> None:
    t = HeadTracker(slots_per_epoch=8, resume_from=3, max_catch_up=4)
    assert t.on_head(80, R) == [9]  # 7 epochs closed meanwhile: more than 4
    assert t.skipped == (3, 8)


def test_resume_ahead_of_the_head_waits_for_it() -> None:
    t = HeadTracker(slots_per_epoch=8, resume_from=6)
    assert t.on_head(43, R) == []  # a node still syncing: epoch 6 has not closed here
    assert t.on_head(56, R) == [6]
