"""Which block's state stands in for a state at an empty slot: same epoch only, never across the
boundary (epoch processing changes balances), forward only for checkpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from stakepool.beacon.state_fallback import block_slot_for_state, slot_of

SPE = 8


def chain_with(*blocks: int) -> tuple[Callable[[int], Awaitable[bool]], list[int]]:
    asked: list[int] = []

    async def block_at(slot: int) -> bool:
        asked.append(slot)
        return slot in blocks

    return block_at, asked


def test_only_slots_name_a_state_that_can_stand_in() -> None:
    assert slot_of("123") == 123
    assert slot_of("head") is None
    assert slot_of("0x" + "ab" * 32) is None
    assert slot_of("-1") is None


@pytest.mark.parametrize(
    ("slot", "blocks", "forward", "expected"),
    [
        (21, (16, 18, 19, 23), False, 19),  # the last block before, same epoch
        (22, (16, 20, 23), False, 20),  # over several empty slots
        (24, (23, 25), False, None),  # empty first slot: the block before is in another epoch
        (24, (23, 25), True, 25),  # checkpoints: a later block of the same epoch will do
        (31, (23,), True, None),  # no block in the epoch at all
        (20, (20,), False, None),  # a block is there: its state was pruned, nothing stands in
    ],
)
async def test_stand_in_block(
    slot: int, blocks: tuple[int, ...], forward: bool, expected: int | None
) -> None:
    block_at, _ = chain_with(*blocks)
    assert await block_slot_for_state(slot, SPE, block_at, forward=forward) == expected


async def test_forward_search_stops_at_the_head() -> None:
    block_at, asked = chain_with(30)
    assert await block_slot_for_state(24, SPE, block_at, head_slot=27, forward=True) is None
    assert max(asked) == 27
