"""The event bus: typed handler lists, subclasses reach their base's handlers, order is kept."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stakepool.chain.bus import EventBus


@dataclass(frozen=True)
class Base:
    n: int


@dataclass(frozen=True)
class Child(Base):
    pass


@dataclass(frozen=True)
class Other:
    text: str


def test_a_handler_gets_its_kind_and_its_subclasses_only() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(Base, seen.append)
    bus.publish(Base(1))
    bus.publish(Child(2))
    bus.publish(Other("not for Base"))
    assert seen == [Base(1), Child(2)]


def test_handlers_run_in_subscription_order_most_specific_kind_first() -> None:
    bus = EventBus()
    calls: list[str] = []
    bus.subscribe(Base, lambda e: calls.append("base-1"))
    bus.subscribe(Child, lambda e: calls.append("child"))
    bus.subscribe(Base, lambda e: calls.append("base-2"))
    bus.publish(Child(1))
    assert calls == ["child", "base-1", "base-2"]


def test_a_late_subscriber_is_not_forgotten_by_the_cache() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.publish(Child(1))  # resolves (and caches) an empty handler list
    assert not bus.wants(Child)
    bus.subscribe(Base, seen.append)
    assert bus.wants(Child)
    bus.publish(Child(2))
    assert seen == [Child(2)]


def test_a_failing_handler_is_a_bug_that_reaches_the_publisher() -> None:
    bus = EventBus()

    def broken(_event: Other) -> None:
        raise RuntimeError("face bug")

    bus.subscribe(Other, broken)
    with pytest.raises(RuntimeError, match="face bug"):
        bus.publish(Other("x"))
