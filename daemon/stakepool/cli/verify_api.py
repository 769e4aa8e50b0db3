"""``stakepool verify`` reads what the operator published: the daemon's HTTP API, never its database.

The published root of the period, the pool's validators and their per-epoch settlements, the
pool's epoch rows (the EL rewards are taken from there: see docs/verify.md) and, when asked, one
delegator's proof. Amounts arrive as decimal strings and are read as integers.
"""

from __future__ import annotations

from typing import Any

import aiohttp

MAX_SPAN = 1000
"""The API's largest ``from..to`` (``ledger.queries.MAX_EPOCH_SPAN``)."""


class ApiError(Exception):
    """The daemon's API could not give what the verification needs."""


class PublishedApi:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.base = url.rstrip("/") + "/api/v1"

    async def _get(self, path: str, *, missing_ok: bool = False) -> Any:
        try:
            async with self.session.get(self.base + path) as answer:
                if answer.status == 404 and missing_ok:
                    return None
                if answer.status != 200:
                    text = (await answer.text())[:300]
                    raise ApiError(f"GET {path}: HTTP {answer.status} {text}")
                return (await answer.json())["data"]
        except aiohttp.ClientError as exc:
            raise ApiError(f"GET {path}: {exc}") from exc

    async def commitment(self, period: int) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self._get(f"/commitments/{period}", missing_ok=True)
        return found

    async def proof(self, delegator: str, period: int) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self._get(
            f"/delegators/{delegator}/proofs/{period}", missing_ok=True
        )
        return found

    async def validators(self) -> list[int]:
        return sorted(int(v["validator_index"]) for v in await self._get("/validators"))

    async def _spans(self, path: str, first: int, last: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for lo in range(first, last + 1, MAX_SPAN):
            hi = min(last, lo + MAX_SPAN - 1)
            rows += await self._get(f"{path}?from={lo}&to={hi}")
        return rows

    async def pool_epochs(self, first: int, last: int) -> dict[int, dict[str, int | None]]:
        out: dict[int, dict[str, int | None]] = {}
        for row in await self._spans("/pool/epochs", first, last):
            out[int(row["epoch"])] = {
                k: None if v is None else int(v)
                for k, v in row.items()
                if k.endswith("_gwei") or k == "delegators"
            }
        return out

    async def first_epoch(self) -> int | None:
        """The ledger's first settled epoch: every pool validator has a row from then on."""
        rows = await self._get("/validators")
        return min((int(v["first_epoch"]) for v in rows), default=None)

    async def settlements(
        self, validators: list[int], first: int, last: int
    ) -> dict[int, dict[int, int]]:
        """``{epoch: {validator: r_v}}`` as published."""
        out: dict[int, dict[int, int]] = {}
        for v in validators:
            for row in await self._spans(f"/validators/{v}/epochs", first, last):
                if row.get("resolution", "epoch") != "epoch":
                    continue  # a day's roll-up (the epochs' detail was pruned): no epoch to check
                out.setdefault(int(row["epoch"]), {})[v] = int(row["reward_gwei"])
        return out
