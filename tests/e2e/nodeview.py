"""What the test reads from the real beacon node itself, to hold stakepool's reports against.

The node only serves duties for the current (and next) epoch and prunes states older than finality,
so ``NodeRecorder`` reads as the chain goes: each epoch's attester and proposer duties of the pool,
and the pool's balances at each epoch's last slot. Plain ``urllib``: the test's view of the node must
not share code with the daemon it checks.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

SLOTS_PER_EPOCH = 8


class NodeError(Exception):
    pass


@dataclass(frozen=True)
class Seat:
    slot: int
    committee: int
    position: int
    """The validator's bit in its committee's aggregation bits."""


@dataclass
class BeaconView:
    url: str
    _attestations: dict[int, list[Any]] = field(default_factory=dict, repr=False)
    """slot → its block's attestations (blocks are final once the test reads them)."""

    def get(self, path: str) -> Any | None:
        """The JSON body; None on 404."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise NodeError(f"GET {path}: HTTP {exc.code} {exc.read()[:200]!r}") from exc

    def post(self, path: str, body: object) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            raise NodeError(f"POST {path}: HTTP {exc.code} {exc.read()[:200]!r}") from exc

    def genesis_time(self) -> int:
        body = self.get("/eth/v1/beacon/genesis")
        assert body is not None
        return int(body["data"]["genesis_time"])

    def head_slot(self) -> int:
        body = self.get("/eth/v1/beacon/headers/head")
        assert body is not None
        return int(body["data"]["header"]["message"]["slot"])

    def has_block(self, slot: int) -> bool:
        """``headers/{slot}``: 404 for a slot without a block (``blocks/{slot}/root`` lies)."""
        return self.get(f"/eth/v1/beacon/headers/{slot}") is not None

    def attester_duties(self, epoch: int, indices: list[int]) -> dict[int, Seat]:
        """validator → its seat (each active validator attests once per epoch)."""
        body = self.post(f"/eth/v1/validator/duties/attester/{epoch}", [str(i) for i in indices])
        return {
            int(d["validator_index"]): Seat(
                int(d["slot"]), int(d["committee_index"]), int(d["validator_committee_index"])
            )
            for d in body["data"]
        }

    def included(self, seat: Seat) -> bool:
        """Whether a block in the seat's inclusion range (Altair: the next ``SLOTS_PER_EPOCH``
        slots) carries an attestation with the seat's bit set, read from the blocks themselves."""
        for slot in range(seat.slot + 1, seat.slot + SLOTS_PER_EPOCH + 1):
            if slot not in self._attestations:
                body = self.get(f"/eth/v1/beacon/blocks/{slot}/attestations")
                self._attestations[slot] = [] if body is None else body["data"]
            for att in self._attestations[slot]:
                data = att["data"]
                if int(data["slot"]) != seat.slot or int(data["index"]) != seat.committee:
                    continue
                bits = bytes.fromhex(att["aggregation_bits"].removeprefix("0x"))
                byte = seat.position // 8
                if byte < len(bits) and bits[byte] >> (seat.position % 8) & 1:
                    return True
        return False

    def proposer_duties(self, epoch: int) -> dict[int, int]:
        """slot → proposer, for the *current* epoch (the node's only reliable answer)."""
        body = self.get(f"/eth/v1/validator/duties/proposer/{epoch}")
        assert body is not None
        duties = {int(d["slot"]): int(d["validator_index"]) for d in body["data"]}
        assert all(s // SLOTS_PER_EPOCH == epoch for s in duties), (epoch, duties)
        return duties

    def balances(self, slot: int, indices: list[int]) -> dict[int, int] | None:
        """The pool's balances in the state at ``slot`` (the last block's state at or before it
        within the epoch, which is the same state when the slot is empty); None if pruned."""
        query = "&".join(f"id={i}" for i in indices)
        first = slot - slot % SLOTS_PER_EPOCH
        for s in range(slot, first - 1, -1):
            if s != slot and not self.has_block(s):
                continue
            body = self.get(f"/eth/v1/beacon/states/{s}/validators?{query}")
            if body is not None:
                return {int(v["index"]): int(v["balance"]) for v in body["data"]}
            if self.has_block(s):
                return None  # a block there and no state: pruned
        return None


@dataclass
class NodeRecorder:
    """Reads the node's duties and balances once per epoch, in a background thread."""

    view: BeaconView
    pool: list[int]
    genesis_time: int
    seconds_per_slot: int = 2
    attester: dict[int, dict[int, Seat]] = field(default_factory=dict)
    """epoch → validator → its seat."""
    proposer: dict[int, dict[int, int]] = field(default_factory=dict)
    """epoch → slot → proposer (all proposers of the epoch, not only the pool's)."""
    balances: dict[int, dict[int, int]] = field(default_factory=dict)
    """epoch → validator → balance at the epoch's last slot."""
    errors: list[str] = field(default_factory=list)
    """Failed reads (retried on the next tick): shown when data is missing."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def clock_epoch(self) -> int:
        elapsed = time.time() - self.genesis_time
        return max(0, int(elapsed // (self.seconds_per_slot * SLOTS_PER_EPOCH)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="node-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self._tick()
            except (NodeError, OSError, KeyError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _tick(self) -> None:
        epoch = self.clock_epoch()
        for e in (epoch, epoch + 1):
            if e not in self.attester:
                self.attester[e] = self.view.attester_duties(e, self.pool)
        # Lodestar's next-epoch proposer duties are wrong: read them once the epoch has begun,
        # after its first slot (so the clock and the node agree on the epoch).
        if (
            epoch not in self.proposer
            and time.time() - self.genesis_time
            > (epoch * SLOTS_PER_EPOCH + 1) * self.seconds_per_slot
        ):
            self.proposer[epoch] = self.view.proposer_duties(epoch)
        done = epoch - 1  # LAST(done) has passed
        if done >= 0 and done not in self.balances:
            last = (done + 1) * SLOTS_PER_EPOCH - 1
            if self.view.head_slot() > last:  # a block after LAST: its own fate is settled
                found = self.view.balances(last, self.pool)
                if found is not None:
                    self.balances[done] = found
