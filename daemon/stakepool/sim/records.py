"""What the chain remembers of each block: its JSON, and the rewards it paid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class BlockRewards:
    proposer_index: int
    attestations: int
    sync_aggregate: int
    proposer_slashings: int
    attester_slashings: int

    @property
    def total(self) -> int:
        return (
            self.attestations
            + self.sync_aggregate
            + self.proposer_slashings
            + self.attester_slashings
        )


@dataclass(frozen=True, slots=True)
class SyncRecord:
    participant_reward: int
    seats: npt.NDArray[np.int64]
    bits: npt.NDArray[np.bool_]

    def per_validator(self) -> dict[int, int]:
        """Net reward per committee member, summed over its seats."""
        signed = np.where(self.bits, self.participant_reward, -self.participant_reward)
        out: dict[int, int] = {}
        for v, r in zip(self.seats.tolist(), signed.tolist(), strict=True):
            out[v] = out.get(v, 0) + r
        return out


@dataclass(slots=True)
class BlockRecord:
    slot: int
    root: str
    parent_root: str
    state_root: str
    body_root: str
    proposer_index: int
    body: dict[str, Any]
    """Body without the execution payload (shared by the full and the blinded form)."""
    payload: dict[str, Any]
    payload_header: dict[str, Any]
    signature: str
    rewards: BlockRewards
    sync: SyncRecord
    slashed: tuple[int, ...]
    initial_penalties: dict[int, int]
    canonical: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def message_header(self) -> dict[str, str]:
        return {
            "slot": str(self.slot),
            "proposer_index": str(self.proposer_index),
            "parent_root": self.parent_root,
            "state_root": self.state_root,
            "body_root": self.body_root,
        }

    def signed(self, *, blinded: bool) -> dict[str, Any]:
        body = dict(self.body)
        if blinded:
            body["execution_payload_header"] = self.payload_header
        else:
            body["execution_payload"] = self.payload
        body["execution_requests"] = self.body["execution_requests"]
        message = {
            "slot": str(self.slot),
            "proposer_index": str(self.proposer_index),
            "parent_root": self.parent_root,
            "state_root": self.state_root,
            "body": body,
        }
        return {"message": message, "signature": self.signature}
