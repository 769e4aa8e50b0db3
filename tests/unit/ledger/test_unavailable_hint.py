"""The ``ledger_window_unavailable`` hint says what to do for the reason the window failed: an
archive node helps a pruned state, not a damaged answer (which once read "until the beacon node
serves its states (an archive …)" while the node served them, cut short on the way)."""

from __future__ import annotations

import pytest

from stakepool.beacon.errors import (
    InconsistentAnswer,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    Unsupported,
)
from stakepool.ledger.feed import unavailable_hint
from stakepool.rewards.fetcher import WindowNotReady


@pytest.mark.parametrize(
    ("exc", "says", "never"),
    [
        (NotFound("validators", "State not found"), "archive", "malformed"),
        (MalformedResponse("header", "data.slot", "missing"), "malformed", "archive"),
        (InconsistentAnswer("blocks", "a reorg while reading"), "disagree", "archive"),
        (Unsupported("validators"), "route", "archive"),
        (NodeUnavailable("header", "no node answered"), "beacon_node_down", "archive"),
        (WindowNotReady("no start state"), "asks again", "archive"),
    ],
)
def test_the_hint_follows_the_reason(exc: Exception, says: str, never: str) -> None:
    hint = unavailable_hint(exc)
    assert says in hint
    assert never not in hint
    assert hint.endswith("see stakepool_ledger_lag_epochs")
