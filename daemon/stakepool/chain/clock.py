"""Time ↔ slot ↔ epoch arithmetic for any network.

Pure: the caller passes the time (unix milliseconds) in. Slot duration is kept in milliseconds
because newer configs state ``SLOT_DURATION_MS`` and sub-second slots are useful in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.chain.types import Epoch, Slot


@dataclass(frozen=True, slots=True)
class ChainClock:
    genesis_time: int
    """Unix seconds, as ``/eth/v1/beacon/genesis`` states it."""
    slot_duration_ms: int
    slots_per_epoch: int

    def __post_init__(self) -> None:
        if self.slot_duration_ms <= 0:
            raise ValueError(f"slot duration must be positive, got {self.slot_duration_ms} ms")
        if self.slots_per_epoch <= 0:
            raise ValueError(f"slots per epoch must be positive, got {self.slots_per_epoch}")

    @property
    def genesis_ms(self) -> int:
        return self.genesis_time * 1000

    @property
    def epoch_duration_ms(self) -> int:
        return self.slot_duration_ms * self.slots_per_epoch

    def slot_at(self, now_ms: int) -> Slot:
        """The slot in progress at ``now_ms``; slot 0 before genesis (see ``is_before_genesis``)."""
        if now_ms < self.genesis_ms:
            return Slot(0)
        return Slot((now_ms - self.genesis_ms) // self.slot_duration_ms)

    def is_before_genesis(self, now_ms: int) -> bool:
        return now_ms < self.genesis_ms

    def epoch_at(self, now_ms: int) -> Epoch:
        return self.epoch_of(self.slot_at(now_ms))

    def epoch_of(self, slot: int) -> Epoch:
        return Epoch(slot // self.slots_per_epoch)

    def start_slot(self, epoch: int) -> Slot:
        return Slot(epoch * self.slots_per_epoch)

    def last_slot(self, epoch: int) -> Slot:
        return Slot((epoch + 1) * self.slots_per_epoch - 1)

    def slot_start_ms(self, slot: int) -> int:
        return self.genesis_ms + slot * self.slot_duration_ms

    def epoch_start_ms(self, epoch: int) -> int:
        return self.slot_start_ms(self.start_slot(epoch))

    def next_slot_start_ms(self, now_ms: int) -> int:
        """When the next slot begins (genesis itself if ``now_ms`` is before it)."""
        if now_ms < self.genesis_ms:
            return self.genesis_ms
        return self.slot_start_ms(self.slot_at(now_ms) + 1)

    def next_epoch_start_ms(self, now_ms: int) -> int:
        if now_ms < self.genesis_ms:
            return self.genesis_ms
        return self.epoch_start_ms(self.epoch_at(now_ms) + 1)

    def slot_fraction_ms(self, now_ms: int) -> int:
        """Milliseconds elapsed since the start of the current slot."""
        if now_ms < self.genesis_ms:
            return 0
        return (now_ms - self.genesis_ms) % self.slot_duration_ms
