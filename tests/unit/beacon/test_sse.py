"""The incremental SSE parser: WHATWG framing, whatever the chunking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.sse import SseError, SseMessage, SseParser

STREAM = (
    b": keep-alive\n\n"
    b'event: head\ndata: {"slot":"1"}\n\n'
    b'event: block\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
    b"data: no event name\rid: 7\r\r"
    b'event: finalized_checkpoint\ndata:{"epoch":"2"}\n\n'
    b"event: ignored-without-data\n\n"
    b"event: head\ndata: caf\xc3\xa9\n\n"
)
EXPECTED = [
    SseMessage("head", '{"slot":"1"}'),
    SseMessage("block", '{"a":\n1}'),
    SseMessage("message", "no event name", "7"),
    SseMessage("finalized_checkpoint", '{"epoch":"2"}', "7"),
    SseMessage("head", "café", "7"),
]


def test_whole_stream_at_once() -> None:
    parser = SseParser()
    assert parser.feed(STREAM) == EXPECTED
    assert parser.comments == 1


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13, 64])
def test_any_chunking_gives_the_same_messages(size: int) -> None:
    parser = SseParser()
    out: list[SseMessage] = []
    for start in range(0, len(STREAM), size):
        out += parser.feed(STREAM[start : start + size])
    assert out == EXPECTED


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    parser = SseParser()
    assert parser.feed(b"data: x\r") == []
    assert parser.feed(b"\n") == []  # the LF completes the CRLF, it is not a blank line
    assert parser.feed(b"\r\n") == [SseMessage("message", "x")]


def test_incomplete_message_waits_for_the_blank_line() -> None:
    parser = SseParser()
    assert parser.feed(b"event: head\ndata: 1\n") == []
    assert parser.feed(b"\n") == [SseMessage("head", "1")]


def test_bom_field_without_colon_and_space_rules() -> None:
    parser = SseParser()
    out = parser.feed(b"\xef\xbb\xbfdata\ndata:  two spaces\nretry: 5\nevent\n\n")
    assert out == [SseMessage("message", "\n two spaces")]


def test_oversized_event_is_refused() -> None:
    parser = SseParser(max_buffer=100)
    with pytest.raises(SseError):
        parser.feed(b"data: " + b"x" * 200 + b"\n")
    parser = SseParser(max_buffer=100)
    with pytest.raises(SseError):
        parser.feed(b"data: " + b"x" * 200)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
def test_random_split_points(cuts: list[int]) -> None:
    points = sorted({0, len(STREAM), *cuts})
    parser = SseParser()
    out: list[SseMessage] = []
    for start, end in itertools.pairwise(points):
        out += parser.feed(STREAM[start:end])
    assert out == EXPECTED
