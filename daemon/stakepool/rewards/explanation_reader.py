"""``ExplanationReader``: what the rewards endpoints say about a settled window.

The explanation adds the rewards endpoints to what settlement read: attestation rewards of duty
epoch ``k − 2`` (computed from the state at ``LAST(k − 1)``, so normally servable as soon as window
``k`` closes — but a node may 404 them until it has that state, or after pruning it), block rewards
of the pool's blocks, sync-committee rewards of the blocks of ``k``, and the effective balance of
the pool's validators slashed in ``k``. An answer "not available" (404) raises ``Unexplained``: the
fetcher marks the window unexplained and the tracker asks again later.

Each request that comes back malformed is asked again at once (``ASKS`` in all) before the
explanation fails: an explanation takes a dozen answers or more, and one damaged answer among them
would otherwise cost the whole window's explanation until a later try.

A part of its own because none of this is money: settlement never waits for it, and a node
without these routes still settles. Its only state is the client, the shared ``StateReader`` and
the chunk; the figures it returns are assembled into rows by the pure ``explaining`` module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import ParamSpec, TypeVar

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import MalformedResponse
from stakepool.rewards.explaining import AttestationFigures, EndpointFigures
from stakepool.rewards.maths import sync_seat_reward
from stakepool.rewards.state_reader import StateReader, chunked
from stakepool.rewards.window import WindowFacts, seat_positions, single_seat_member
from stakepool.rewards.window_cache import KeptWindow

T = TypeVar("T")
P = ParamSpec("P")
log = structlog.get_logger(__name__)

ASKS = 3
"""Times one rewards request is asked when its answers come back malformed."""


async def asked_again(
    what: str, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``call(*args, **kwargs)``, asked again at once when the answer is malformed (``ASKS`` in
    all). Only a malformed answer: "not available" and a missing route are answers, and a node
    that is down is the transport's to retry."""
    for ask in range(1, ASKS + 1):
        try:
            return await call(*args, **kwargs)
        except MalformedResponse as exc:
            if ask == ASKS:
                raise
            log.info("rewards_answer_asked_again", what=what, ask=ask, error=str(exc))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class Unexplained(Exception):
    """An endpoint answered "not available" (404): the explanation must wait."""


class ExplanationReader:
    """``chunk``: validators per attestation-rewards request (at least 1)."""

    def __init__(self, client: BeaconClient, states: StateReader, *, chunk: int) -> None:
        self.client = client
        self.states = states
        self.chunk = max(1, chunk)

    async def figures(self, window: KeptWindow, k: int, indices: Sequence[int]) -> EndpointFigures:
        """The endpoints' figures of window ``k`` for ``indices``; raises ``Unexplained``, or the
        client's ``BeaconError`` (``Unsupported``: the node lacks the route)."""
        pool = set(indices)
        slashed = sorted({v for b in window.facts.blocks for v in b.slashed} & pool)
        att, block_totals, sync, slashed_records = await asyncio.gather(
            self._attestation_rewards(k - 2, indices),
            self._block_rewards(window.facts, pool),
            self._sync_rewards(window.facts, k, window.end_state_id, indices),
            # The EB slash_validator used: the one in force during epoch k (end state).
            asked_again("records", self.states.records, window.end_state_id, slashed),
        )
        return EndpointFigures(
            attestations=att,
            block_rewards=block_totals,
            sync_rewards=sync,
            slashed_effective_balance={
                v: r.effective_balance for v, r in slashed_records[0].items()
            },
        )

    async def _attestation_rewards(
        self, duty_epoch: int, indices: Sequence[int]
    ) -> AttestationFigures | None:
        if duty_epoch < 0:
            return None
        parts: list[AttestationFigures] = []
        for part in chunked(indices, self.chunk):
            answer = await asked_again(
                "attestation_rewards",
                self.client.rewards.attestation_columns,
                duty_epoch,
                part,
            )
            if answer is None:
                raise Unexplained(f"attestation rewards for epoch {duty_epoch} not available yet")
            # 100,000 rows made into figures: in a thread, so the event loop keeps its turns.
            parts.append(await asyncio.to_thread(AttestationFigures.of_columns, answer.data))
        return AttestationFigures(
            totals={v: c for p in parts for v, c in p.totals.items()},
            ideal={eb: c for p in parts for eb, c in p.ideal.items()},
        )

    async def _block_rewards(self, facts: WindowFacts, pool: set[int]) -> dict[int, list[int]]:
        ours = [b for b in facts.blocks if b.proposer in pool]
        block = self.client.rewards.block
        answers = await asyncio.gather(*(asked_again("block_rewards", block, b.root) for b in ours))
        out: dict[int, list[int]] = {}
        for b, answer in zip(ours, answers, strict=True):
            if answer is None:
                raise Unexplained(f"block rewards of slot {b.slot} not available")
            out.setdefault(b.proposer, []).append(int(answer.data.total))
        return out

    async def _sync_rewards(
        self, facts: WindowFacts, epoch: int, state_id: str, indices: Sequence[int]
    ) -> dict[int, list[int]]:
        """Per pool member of the sync committee, its reward in each block of the window.

        A node's per-validator figure cannot be trusted for a validator with several seats (some
        clients list one entry per seat, others repeat the validator's aggregate per seat), so the
        per-seat reward is read from a single-seat member and multiplied out over the block's bits
        (accounting.md §3.3)."""
        blocks = [b for b in facts.blocks if b.sync_bits is not None]
        if not blocks:
            return {}
        committee = (
            await asked_again("sync_committee", self.client.state.sync_committee, state_id, epoch)
        ).data.validators
        seats = seat_positions(committee, indices)
        if not seats:
            return {}
        probe = single_seat_member(committee, prefer=sorted(seats))
        ask = sorted(set(seats) | ({probe} if probe is not None else set()))
        sync = self.client.rewards.sync_committee
        answers = await asyncio.gather(
            *(asked_again("sync_committee_rewards", sync, b.root, ask) for b in blocks)
        )
        out: dict[int, list[int]] = {}
        for b, answer in zip(blocks, answers, strict=True):
            if answer is None:
                raise Unexplained(f"sync committee rewards of slot {b.slot} not available")
            given = {int(r.validator_index): int(r.reward) for r in answer.data}
            bits = b.sync_bits or ()
            per_seat = abs(given[probe]) if probe is not None and probe in given else None
            for v, positions in seats.items():
                if per_seat is None:  # every member holds several seats: trust the node
                    out.setdefault(v, []).append(given.get(v, 0))
                else:
                    out.setdefault(v, []).append(
                        sync_seat_reward(per_seat, [bits[p] for p in positions])
                    )
        return out
