"""``stakepool verify`` reads the chain: each pool validator's settlement per epoch, from public data.

Its own code path, on purpose not the daemon's (``rewards/``, ``beacon/``): plain Beacon API
requests over aiohttp and a few lines of JSON reading, so a bug in the daemon's reading of the
chain is not repeated here. Per window ``k`` (accounting.md §4.1) and pool validator ``v``:
the balance at ``LAST(k−1)`` and ``LAST(k)``, the withdrawals in the canonical blocks of ``k``
(Gloas builder payments excluded), and deposits through the pending-deposit queue identity
(``Q(k−1) + N(k) − Q(k)``). A window with a consolidation touching the pool is refused: this
version does not verify consolidations.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import aiohttp

from stakepool.cli.verify_maths import ValidatorMoves

UINT64_MAX = 2**64 - 1
BUILDER_INDEX_FLAG = 2**40
CHUNK = 100


class ChainError(Exception):
    """The beacon node could not give what the verification needs; the message says what."""


def _uint(value: object, what: str) -> int:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ChainError(f"{what}: not an integer: {value!r}")
    text = str(value)
    if not text.isdigit() or int(text) > UINT64_MAX:
        raise ChainError(f"{what}: not a uint64: {text[:40]!r}")
    return int(text)


class ChainReader:
    """One beacon node, read by slot (a final window's states and blocks are canonical)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self._states: dict[int, tuple[dict[int, int], dict[int, str]]] = {}
        self._pending: dict[int, dict[str, int]] = {}
        self.slots_per_epoch = 0

    async def _get(self, path: str, *, missing_ok: bool = False) -> Any:
        try:
            async with self.session.get(self.url + path) as answer:
                if answer.status == 404 and missing_ok:
                    return None
                if answer.status != 200:
                    text = (await answer.text())[:200]
                    raise ChainError(f"GET {path}: HTTP {answer.status} {text}")
                return await answer.json()
        except aiohttp.ClientError as exc:
            raise ChainError(f"GET {path}: {exc}") from exc

    async def start(self) -> None:
        spec = (await self._get("/eth/v1/config/spec"))["data"]
        self.slots_per_epoch = _uint(spec["SLOTS_PER_EPOCH"], "SLOTS_PER_EPOCH")
        if self.slots_per_epoch == 0:
            raise ChainError("SLOTS_PER_EPOCH is 0")

    async def _state(self, slot: int, indices: list[int]) -> tuple[dict[int, int], dict[int, str]]:
        """Balances and pubkeys of ``indices`` at ``slot`` (absent: not created yet)."""
        if slot not in self._states:
            balances: dict[int, int] = {}
            pubkeys: dict[int, str] = {}
            for i in range(0, len(indices), CHUNK):
                ids = ",".join(str(v) for v in indices[i : i + CHUNK])
                doc = await self._get(f"/eth/v1/beacon/states/{slot}/validators?id={ids}")
                for entry in doc["data"]:
                    v = _uint(entry["index"], "validator index")
                    balances[v] = _uint(entry["balance"], f"balance of {v}")
                    pubkeys[v] = str(entry["validator"]["pubkey"]).lower()
            self._states[slot] = (balances, pubkeys)
        return self._states[slot]

    async def _queue(self, slot: int) -> dict[str, int]:
        if slot not in self._pending:
            doc = await self._get(f"/eth/v1/beacon/states/{slot}/pending_deposits")
            queued: dict[str, int] = defaultdict(int)
            for d in doc["data"]:
                queued[str(d["pubkey"]).lower()] += _uint(d["amount"], "pending deposit")
            self._pending[slot] = dict(queued)
        return self._pending[slot]

    async def window(self, epoch: int, indices: list[int]) -> dict[int, ValidatorMoves]:
        """Every pool validator's moves in window ``epoch`` (``≥ 1``)."""
        spe = self.slots_per_epoch
        start_slot, end_slot = epoch * spe - 1, epoch * spe + spe - 1
        (b_start, _), (b_end, keys) = (
            await self._state(start_slot, indices),
            await self._state(end_slot, indices),
        )
        q_start, q_end = await self._queue(start_slot), await self._queue(end_slot)
        withdrawn: dict[int, int] = defaultdict(int)
        included: dict[str, int] = defaultdict(int)
        pubkeys = set(keys.values())
        for slot in range(epoch * spe, end_slot + 1):
            doc = await self._get(f"/eth/v2/beacon/blocks/{slot}", missing_ok=True)
            if doc is None:
                continue  # an empty slot
            body = doc["data"]["message"]["body"]
            for w in (body.get("execution_payload") or {}).get("withdrawals") or ():
                v = _uint(w["validator_index"], "withdrawal index")
                if not v & BUILDER_INDEX_FLAG:
                    withdrawn[v] += _uint(w["amount"], "withdrawal amount")
            for d in body.get("deposits") or ():
                included[str(d["data"]["pubkey"]).lower()] += _uint(d["data"]["amount"], "deposit")
            requests = body.get("execution_requests") or {}
            for d in requests.get("deposits") or ():
                included[str(d["pubkey"]).lower()] += _uint(d["amount"], "deposit request")
            for c in requests.get("consolidations") or ():
                touched = {str(c.get(f, "")).lower() for f in ("source_pubkey", "target_pubkey")}
                if touched & pubkeys:
                    raise ChainError(
                        f"slot {slot}: a consolidation touches the pool; this version of"
                        " stakepool verify does not verify consolidations"
                    )
        moves: dict[int, ValidatorMoves] = {}
        for v in indices:
            if v not in b_end and v not in b_start:
                continue  # not on chain yet: no row
            key = keys.get(v, "")
            moves[v] = ValidatorMoves(
                balance_start=b_start.get(v, 0),
                balance_end=b_end.get(v, 0),
                withdrawals=withdrawn.get(v, 0),
                deposits_included=included.get(key, 0),
                pending_start=q_start.get(key, 0),
                pending_end=q_end.get(key, 0),
            )
        return moves
