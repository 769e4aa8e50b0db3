"""A kept window is packed (zlib) and unpacks to exactly what was kept; a body this daemon cannot
have written (damaged, truncated, an unknown encoding, one that would unpack past any window) is
refused with a reason, never guessed at."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given

from stakepool.ledger.store.windows_sql import KeptBody
from stakepool.ledger.windows import PACKED, unpacked
from stakepool.rewards import codec
from stakepool.rewards.types import EpochRewards
from tests.unit.rewards.test_codec import windows


def _packed(window: EpochRewards) -> KeptBody:
    packer = zlib.compressobj(1)
    parts = [packer.compress(p.encode()) for p in codec.encode_pieces([window], 2)]
    return KeptBody(b"".join([*parts, packer.flush()]), PACKED)


@given(windows)
def test_a_packed_window_unpacks_to_what_was_kept(window: EpochRewards) -> None:
    assert codec.decode(unpacked(_packed(window))) == [window]


@given(windows)
def test_a_window_kept_as_plain_json_before_packing_reads_the_same(window: EpochRewards) -> None:
    assert codec.decode(unpacked(KeptBody(codec.encode([window]).encode(), "json"))) == [window]


@given(windows)
def test_a_truncated_packed_window_is_refused(window: EpochRewards) -> None:
    body = _packed(window)
    with pytest.raises(ValueError, match=r"truncated|unpack"):
        unpacked(KeptBody(body.data[: len(body.data) // 2], PACKED))


def test_damaged_bytes_and_unknown_encodings_are_refused() -> None:
    with pytest.raises(ValueError, match="does not unpack"):
        unpacked(KeptBody(b"not zlib at all", PACKED))
    with pytest.raises(ValueError, match="unknown kept-window encoding 'gzip'"):
        unpacked(KeptBody(zlib.compress(b"{}"), "gzip"))


def test_a_body_that_would_unpack_past_any_window_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("stakepool.ledger.windows.UNPACK_LIMIT", 1000)
    with pytest.raises(ValueError, match="larger than any window"):
        unpacked(KeptBody(zlib.compress(b"0" * 5000), PACKED))
