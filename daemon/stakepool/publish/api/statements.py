"""The statement, commitment and proof routes of the ledger API (``LedgerApi`` mounts them).

* ``GET /delegators/{id}/statements?from=&to=`` — from/to are period numbers (periods of
  ``[ledger] statement_period_epochs`` epochs aligned on epoch 0); ``?month=YYYY-MM`` instead gives
  the UTC month's roll-up. Only closed periods (last epoch settled) have a statement.
* ``GET /delegators/{id}/proofs/{period}`` — the leaf and its inclusion proof in the period's root.
* ``GET /commitments?from=&to=`` and ``GET /commitments/{period}`` — the published roots.
"""

from __future__ import annotations

from aiohttp import web

from stakepool.ledger.statement_format import commitment_json, proof_json, statement_json
from stakepool.ledger.statement_queries import MAX_PERIODS
from stakepool.ledger.statements import StatementError, parse_month
from stakepool.ledger.store.interface import LedgerStore
from stakepool.ledger.store.statements_sql import CommitmentMismatch
from stakepool.publish.api import params
from stakepool.publish.api.errors import ApiError, json_answer


def _period(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    return None if raw is None else params.parse_uint(name, raw)


class StatementRoutes:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def add_to(self, app: web.Application) -> None:
        get = app.router.add_get
        get("/delegators/{id}/statements", self.statements, allow_head=False)
        get("/delegators/{id}/proofs/{period}", self.proof, allow_head=False)
        get("/commitments", self.commitments, allow_head=False)
        get("/commitments/{period}", self.commitment, allow_head=False)

    async def _known(self, request: web.Request) -> str:
        delegator_id = params.account_id("id", request.match_info["id"])
        if await self.store.delegator(delegator_id) is None:
            raise ApiError(404, f"delegator {delegator_id!r} is not in the ledger")
        return delegator_id

    async def statements(self, request: web.Request) -> web.Response:
        delegator_id = await self._known(request)
        meta = {"period_epochs": self.store.period_epochs}
        month = request.query.get("month")
        try:
            if month is not None:
                if "from" in request.query or "to" in request.query:
                    raise ApiError(400, "parameter 'month': not with 'from' or 'to'")
                year, number = parse_month(month)
                view = await self.store.month_statement(delegator_id, year, number)
                data = [] if view is None else [statement_json(view)]
                return json_answer({"data": data, "meta": meta})
            first, last = _period(request, "from"), _period(request, "to")
            if first is not None and last is not None:
                if last < first:
                    raise ApiError(400, f"parameter 'to': {last} is before from ({first})")
                if last - first + 1 > MAX_PERIODS:
                    raise ApiError(400, f"from..to covers more than {MAX_PERIODS} periods")
            views = await self.store.statements(delegator_id, first, last)
        except StatementError as exc:
            raise ApiError(400, str(exc)) from exc
        return json_answer({"data": [statement_json(v) for v in views or []], "meta": meta})

    async def proof(self, request: web.Request) -> web.Response:
        delegator_id = await self._known(request)
        period = params.parse_uint("period", request.match_info["period"])
        try:
            found = await self.store.proof(delegator_id, period)
        except CommitmentMismatch as exc:
            # The ledger no longer agrees with what it committed to: say so, never a made-up leaf.
            raise ApiError(409, str(exc)) from exc
        if found is None:
            raise ApiError(
                404, f"period {period} is not committed or has no leaf of {delegator_id!r}"
            )
        return json_answer({"data": proof_json(found)})

    async def commitments(self, request: web.Request) -> web.Response:
        first, last = _period(request, "from"), _period(request, "to")
        last = (first or 0) + MAX_PERIODS - 1 if last is None else last
        first = max(0, last - MAX_PERIODS + 1) if first is None else first
        if last < first or last - first + 1 > MAX_PERIODS:
            raise ApiError(400, f"from..to must be a range of at most {MAX_PERIODS} periods")
        rows = await self.store.commitments(first, last)
        return json_answer(
            {
                "data": [commitment_json(c) for c in rows],
                "meta": {"period_epochs": self.store.period_epochs},
            }
        )

    async def commitment(self, request: web.Request) -> web.Response:
        period = params.parse_uint("period", request.match_info["period"])
        rows = await self.store.commitments(period, period)
        if not rows:
            raise ApiError(404, f"period {period} is not committed (not final yet?)")
        return json_answer({"data": commitment_json(rows[0])})
