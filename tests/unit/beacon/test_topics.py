"""The per-node topic book and the reading of a refused subscription."""

from __future__ import annotations

import json

from stakepool.beacon.models import Topic
from stakepool.beacon.topics import TopicBook, refusal, refused

ALL = (Topic.HEAD, Topic.BLOCK, Topic.ATTESTER_SLASHING)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rejections_are_per_node_and_expire() -> None:
    clock = Clock()
    book = TopicBook(100, monotonic=clock)
    book.reject("a", [Topic.ATTESTER_SLASHING])
    book.reject("a", [Topic.BLOCK])
    assert book.usable("a", ALL) == (Topic.HEAD,)
    assert book.usable("b", ALL) == ALL
    assert book.rejected(None) == frozenset()
    clock.now = 100
    assert book.usable("a", ALL) == ALL  # re-tried: the node may have been upgraded


def test_verification_is_due_once_per_interval() -> None:
    clock = Clock()
    book = TopicBook(10, monotonic=clock)
    assert book.verification_due("a")
    assert not book.verification_due("a")
    assert book.verification_due("b")
    clock.now = 10
    assert book.verification_due("a")


def test_refused_topics() -> None:
    assert refused(ALL, ["ok", "silent", "refused"]) == [Topic.BLOCK, Topic.ATTESTER_SLASHING]
    assert refused(ALL, ["ok", "error", "ok"]) == []


def test_reading_a_refusal() -> None:
    body = json.dumps({"code": 400, "message": "Invalid topic: weather"}).encode()
    assert refusal(400, body) == ("Invalid topic: weather", False)
    assert refusal(404, b"404: Not Found") == ("404: Not Found", True)
    assert refusal(405, b"") == ("HTTP 405", True)
    assert refusal(500, b"{not json") == ("{not json", False)
