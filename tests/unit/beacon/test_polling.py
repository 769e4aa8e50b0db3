"""Dedupe and the polling synthesiser (pure parts of the event stream)."""

from __future__ import annotations

from typing import Any

from stakepool.beacon.dedupe import Deduper, event_key
from stakepool.beacon.models import (
    BlockEvent,
    ChainReorgEvent,
    Envelope,
    FinalityCheckpoints,
    FinalizedCheckpointEvent,
    HeaderInfo,
    HeadEvent,
    SignedVoluntaryExit,
    Topic,
    parse_as,
)
from stakepool.beacon.polling import PollState
from tests.unit.beacon.fixtures import events, load

ROOT_A = "0x" + "aa" * 32
ROOT_B = "0x" + "bb" * 32
ALL = {Topic.HEAD, Topic.BLOCK, Topic.FINALIZED_CHECKPOINT}


def head(slot: int, root: str = ROOT_A) -> HeadEvent:
    return HeadEvent.model_validate({"slot": str(slot), "block": root, "state": ROOT_B})


def header_env(slot: int, root: str = ROOT_A) -> Envelope[HeaderInfo]:
    body: dict[str, Any] = load("header").body
    data = {**body["data"], "root": root}
    data["header"] = {
        **data["header"],
        "message": {**data["header"]["message"], "slot": str(slot)},
    }
    return parse_as(Envelope[HeaderInfo], {**body, "data": data}, "header")


def finality_env(epoch: int, root: str = ROOT_A) -> Envelope[FinalityCheckpoints]:
    body: dict[str, Any] = load("finality_checkpoints").body
    data = {**body["data"], "finalized": {"epoch": str(epoch), "root": root}}
    return parse_as(Envelope[FinalityCheckpoints], {**body, "data": data}, "finality")


def test_deduper_same_slot_and_root_once() -> None:
    d = Deduper(capacity=2)
    assert d.first_time(Topic.HEAD, head(5))
    assert not d.first_time(Topic.HEAD, head(5))
    assert d.first_time(Topic.HEAD, head(5, ROOT_B))  # a different block at the slot
    block = BlockEvent.model_validate({"slot": "5", "block": ROOT_A})
    assert d.first_time(Topic.BLOCK, block)  # another topic
    assert d.first_time(Topic.HEAD, head(5))  # evicted (capacity 2), so new again


def test_events_polling_cannot_produce_are_never_deduplicated() -> None:
    d = Deduper()
    exit_ = SignedVoluntaryExit.model_validate(events()["voluntary_exit"])
    assert event_key(Topic.VOLUNTARY_EXIT, exit_) is None
    assert d.first_time(Topic.VOLUNTARY_EXIT, exit_)
    assert d.first_time(Topic.VOLUNTARY_EXIT, exit_)


def test_a_reorg_told_by_the_stream_and_found_by_a_scan_is_delivered_once() -> None:
    d = Deduper()
    data = ChainReorgEvent.model_validate(events()["chain_reorg"])
    assert d.first_time(Topic.CHAIN_REORG, data)
    # The scan's copy differs only in what the event id leaves out (the state roots).
    again = data.model_copy(update={"old_head_state": "0x" + "77" * 32})
    assert not d.first_time(Topic.CHAIN_REORG, again)
    other = data.model_copy(update={"slot": data.slot + 1})
    assert d.first_time(Topic.CHAIN_REORG, other)


def test_polled_head_gives_block_then_head_once() -> None:
    state = PollState(slots_per_epoch=32)
    first = state.from_head(header_env(100), ALL, "n")
    assert [e.topic for e in first] == [Topic.BLOCK, Topic.HEAD]
    assert all(e.polled for e in first)
    polled_head = first[1].data
    assert isinstance(polled_head, HeadEvent)
    assert polled_head.slot == 100
    assert polled_head.epoch_transition is None  # no earlier head to compare with
    assert polled_head.previous_duty_dependent_root is None
    assert state.from_head(header_env(100), ALL, "n") == []
    nxt = state.from_head(header_env(128, ROOT_B), ALL, "n")
    assert isinstance(nxt[1].data, HeadEvent)
    assert nxt[1].data.epoch_transition is True


def test_stream_event_suppresses_the_same_polled_one_and_vice_versa() -> None:
    state = PollState()
    assert state.admit(Topic.HEAD, head(7))
    assert [e.topic for e in state.from_head(header_env(7), ALL, "n")] == [Topic.BLOCK]
    polled = state.from_head(header_env(8, ROOT_B), {Topic.HEAD}, "n")
    assert len(polled) == 1
    assert not state.admit(Topic.HEAD, head(8, ROOT_B))  # the stream repeats it: dropped


def test_polling_never_goes_backwards() -> None:
    state = PollState()
    state.admit(Topic.HEAD, head(50))
    assert state.from_head(header_env(49, ROOT_B), ALL, "n") == []


def test_finality_from_polling() -> None:
    state = PollState()
    assert state.from_finality(finality_env(0, "0x" + "00" * 32), ALL, "n") == []
    out = state.from_finality(finality_env(10), ALL, "n")
    assert len(out) == 1
    event = out[0].data
    assert isinstance(event, FinalizedCheckpointEvent)
    assert (event.epoch, event.state) == (10, None)
    assert state.from_finality(finality_env(10), ALL, "n") == []
    assert state.from_finality(finality_env(9, ROOT_B), ALL, "n") == []
    streamed = FinalizedCheckpointEvent.model_validate(
        {"block": ROOT_B, "state": ROOT_A, "epoch": "11"}
    )
    assert state.admit(Topic.FINALIZED_CHECKPOINT, streamed)
    assert state.from_finality(finality_env(11, ROOT_B), ALL, "n") == []
    assert state.from_finality(finality_env(12), {Topic.HEAD}, "n") == []
