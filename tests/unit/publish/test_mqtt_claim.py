"""Who speaks for the pool on its retained status topic (``publish/mqtt_claim``)."""

from __future__ import annotations

import pytest

from stakepool.config import MqttSettings
from stakepool.publish.mqtt_broker import broker_options
from stakepool.publish.mqtt_claim import RoleChanged, StatusClaim
from stakepool.publish.mqtt_topics import OFFLINE, Topics

TOPICS = Topics("stakepool", "alpha")


def test_a_single_instance_always_speaks_for_the_pool() -> None:
    claim = StatusClaim(TOPICS, None)
    will = claim.will()
    assert will is not None
    assert (will.topic, will.payload, will.retain) == ("stakepool/alpha/status", OFFLINE, True)
    claim.check()  # never a role to change


def test_a_standby_session_has_no_will_and_ends_when_it_becomes_the_writer() -> None:
    role = {"writer": False}
    claim = StatusClaim(TOPICS, lambda: role["writer"])
    assert claim.will() is None
    assert not claim.claiming
    claim.check()
    role["writer"] = True
    with pytest.raises(RoleChanged, match="writer"):
        claim.check()
    assert claim.will() is not None  # the next session carries the pool's will


def test_a_writer_session_ends_when_it_loses_the_role() -> None:
    role = {"writer": True}
    claim = StatusClaim(TOPICS, lambda: role["writer"])
    assert claim.will() is not None
    role["writer"] = False
    with pytest.raises(RoleChanged, match="standby"):
        claim.check()


def test_instances_of_one_pool_get_distinct_default_client_ids() -> None:
    settings = MqttSettings(url="mqtt://broker.lan")
    assert broker_options(settings, "alpha").client_id == "stakepool-alpha"
    a = broker_options(settings, "alpha", instance="host-a").client_id
    b = broker_options(settings, "alpha", instance="host-b").client_id
    assert (a, b) == ("stakepool-alpha-host-a", "stakepool-alpha-host-b")
    chosen = MqttSettings(url="mqtt://broker.lan", client_id="mine")
    assert broker_options(chosen, "alpha", instance="host-a").client_id == "mine"
