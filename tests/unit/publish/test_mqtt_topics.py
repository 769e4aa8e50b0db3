"""Which topics an event goes to: events always, alerts for warning and critical, status apart."""

from __future__ import annotations

import pytest

from stakepool.publish.mqtt_topics import Topics, is_topic_level

T = Topics("stakepool", "pool-a")


def test_status_and_event_topics() -> None:
    assert T.status == "stakepool/pool-a/status"
    assert T.for_event("block_proposed", "info") == ("stakepool/pool-a/events/block_proposed",)
    assert T.for_event("epoch_settled", None) == ("stakepool/pool-a/events/epoch_settled",)


@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_alerts_go_to_their_severity_as_well(severity: str) -> None:
    assert T.for_event("duty_missed", severity) == (
        "stakepool/pool-a/events/duty_missed",
        f"stakepool/pool-a/alerts/{severity}",
    )


def test_a_prefix_with_levels() -> None:
    assert Topics("site/eth", "p1").event("reorg") == "site/eth/p1/events/reorg"


@pytest.mark.parametrize("kind", ["duty/missed", "a+", "#", "", "Duty", "x" * 65, "é"])
def test_a_kind_that_cannot_be_a_topic_level_goes_to_unknown(kind: str) -> None:
    assert not is_topic_level(kind)
    assert T.for_event(kind, "critical") == (
        "stakepool/pool-a/events/unknown",
        "stakepool/pool-a/alerts/critical",
    )
