"""A key our client keeps silent but the network sees live is a doppelganger: one alert per key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stakepool.beacon.models import LegacyLiveness, Liveness
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.doppelganger import DoppelgangerCheck, SilentWindow, silent_windows
from stakepool.monitor.events import DoppelgangerDetected, Severity

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"


def live(index: int, is_live: bool = True, epoch: int | None = None) -> Liveness:
    body: dict[str, object] = {"index": str(index), "is_live": is_live}
    if epoch is not None:
        body["epoch"] = str(epoch)
    return Liveness.model_validate(body)


def test_live_key_during_the_vc_wait_is_a_critical_doppelganger_once() -> None:
    check = DoppelgangerCheck(silent_windows(waiting=[1, 2], wait_first=10, wait_last=11))
    assert check.to_query(10) == [1, 2]
    ev = check.observe(10, [live(1), live(2, is_live=False)])
    assert ev == [DoppelgangerDetected(validator_index=ValidatorIndex(1), epoch=Epoch(10))]
    assert ev[0].severity is Severity.CRITICAL
    assert check.observe(11, [live(1)]) == []  # once per key
    assert check.to_query(11) == [2]


def test_liveness_outside_the_silent_window_is_our_own_client() -> None:
    check = DoppelgangerCheck(silent_windows(waiting=[1], wait_first=10, wait_last=11))
    assert check.observe(12, [live(1)]) == []
    assert check.observe(9, [live(1)]) == []
    assert check.to_query(12) == []


def test_not_started_keys_stay_silent_until_the_operator_starts_them() -> None:
    check = DoppelgangerCheck(
        silent_windows(not_started=[3], since_epoch=5, waiting=[3], wait_first=5, wait_last=6)
    )
    assert check.to_query(1000) == [3]  # "not started" outlives the wait
    check.set_window(3, None)  # the operator started the key
    assert check.observe(1000, [live(3)]) == []
    check.set_window(3, SilentWindow(Epoch(2000)))
    assert len(check.observe(2000, [live(3)])) == 1


def test_keys_not_watched_are_ignored_and_alerts_survive_restarts() -> None:
    check = DoppelgangerCheck({ValidatorIndex(1): SilentWindow(Epoch(0))})
    assert check.observe(3, [live(9)]) == []
    check.observe(3, [live(1)])
    again = DoppelgangerCheck({ValidatorIndex(1): SilentWindow(Epoch(0))}, alerted=check.alerted)
    assert again.observe(4, [live(1)]) == []


def test_answers_for_another_epoch_are_refused() -> None:
    check = DoppelgangerCheck({ValidatorIndex(1): SilentWindow(Epoch(0))})
    with pytest.raises(ValueError, match="fed as epoch"):
        check.observe(4, [live(1, epoch=3)])


def test_fixture_answers_including_lodestar_legacy_numbers() -> None:
    body = json.loads((FIXTURES / "liveness.json").read_text())["response"]["body"]
    answers = [Liveness.model_validate(d) for d in body["data"]]
    legacy = json.loads((FIXTURES / "liveness_legacy_lodestar.json").read_text())["response"][
        "body"
    ]
    answers_legacy = [LegacyLiveness.model_validate(d).typed() for d in legacy["data"]]
    for batch in (answers, answers_legacy):
        epoch = next((a.epoch for a in batch if a.epoch is not None), 7)
        check = DoppelgangerCheck({a.index: SilentWindow(Epoch(0)) for a in batch})
        ev = check.observe(epoch, batch)
        assert [e.validator_index for e in ev] == sorted(a.index for a in batch if a.is_live)
