"""What the monitor keeps per pool member between epochs is not walked by the garbage collector.

At 100,000 validators each of these maps holds 100,000 values; as tracked objects they made every
full collection walk them, and a full collection holds the event loop (0.13-0.28 s measured in
the process bench). Plain values cannot form a cycle, so nothing is lost by leaving them out.
"""

from __future__ import annotations

import gc

from stakepool.monitor.status import StatusTracker
from stakepool.monitor.streaks import MissedStreaks
from tests.unit.monitor.builders import validator_info
from tests.unit.monitor.test_streaks import outcome


def test_status_snapshots_are_untracked() -> None:
    t = StatusTracker()
    t.observe(5, [validator_info(i, "active_ongoing") for i in range(1, 50)])
    snapshots = list(t.state.values())
    assert len(snapshots) == 49
    assert not any(gc.is_tracked(s) for s in snapshots)


def test_streak_states_are_untracked() -> None:
    t = MissedStreaks(2)
    t.observe(3, [outcome(v, 3, v % 2 == 0) for v in range(1, 50)])
    t.observe(4, [outcome(v, 4, False) for v in range(1, 50)])
    states = list(t.state.values())
    assert len(states) == 49
    assert not any(gc.is_tracked(s) for s in states)
    assert t.streak(1) == 2
    assert t.streak(2) == 1
