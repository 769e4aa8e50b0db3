"""The page's own figures as JSON, so each can be checked against the API (and scripted):

* ``GET /api/v1/terms`` — fee, fee mode, loss policy, operator bond, notice period, and the
  network's withdrawal delays and the pool's share of the active stake (``network``: ``null`` until
  read from the beacon node);
* ``GET /api/v1/duties/days`` — the monitor's duty outcomes per statement period ("day");
* ``GET /api/v1/alerts`` — current warnings and critical events, newest first.

Served with the page (``[web] enabled``), on the daemon's app next to the ledger API's sub-app;
documented in the same OpenAPI document. Errors go through the API's own middleware format.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import structlog
from aiohttp import web

from stakepool.publish.api.errors import add_read_route, error_answer, json_answer
from stakepool.publish.web.duties import DutyHistory
from stakepool.publish.web.network import NetworkFigures, NetworkView
from stakepool.publish.web.views import Terms

log = structlog.get_logger(__name__)

ROUTES = ("/api/v1/terms", "/api/v1/duties/days", "/api/v1/alerts")


def network_json(n: NetworkFigures) -> dict[str, Any]:
    return {
        "epoch": n.epoch,
        "validators": n.validators,
        "active_validators": n.active_validators,
        "total_active_gwei": str(n.total_active_gwei),
        "pool_active_gwei": str(n.pool_active_gwei),
        "pool_share_ppm": n.pool_share_ppm,
        "exit_churn_gwei": str(n.exit_churn_gwei),
        "queued_exits": n.queued_exits,
        "exit_epoch": n.exit_epoch,
        "exit_queue_epochs": n.exit_queue_epochs,
        "withdrawable_epochs": n.withdrawable_epochs,
        "withdrawals_due": n.withdrawals_due,
        "sweep_slots": n.sweep_slots,
        "slot_seconds": n.slot_seconds,
        "slots_per_epoch": n.slots_per_epoch,
    }


def terms_json(terms: Terms, network: NetworkFigures | None) -> dict[str, Any]:
    p = terms.policy
    return {
        "fee_bps": p.fee_bps,
        "fee_mode": p.fee_mode,
        "loss_policy": p.loss_policy,
        "operator_bond_gwei": str(p.operator_bond_gwei),
        "fee_period_epochs": p.fee_period_epochs,
        "notice_period_epochs": terms.notice_period_epochs,
        "network": None if network is None else network_json(network),
    }


class WebApi:
    def __init__(self, terms: Terms, duties: DutyHistory, network: NetworkView) -> None:
        self.terms = terms
        self.duties = duties
        self.network = network

    def add_to(self, app: web.Application) -> None:
        terms, days, alerts = ROUTES
        add_read_route(app, terms, self._guard(self.get_terms))
        add_read_route(app, days, self._guard(self.get_days))
        add_read_route(app, alerts, self._guard(self.get_alerts))

    @staticmethod
    def _guard(handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.Response:
            try:
                answer: web.Response = await handler(request)
            except Exception:  # the API's error shape, never aiohttp's HTML page
                log.exception("web_api_failed", path=request.path)
                return error_answer(500, "internal error (logged by the daemon)")
            return answer

        return guarded

    async def get_terms(self, _request: web.Request) -> web.Response:
        return json_answer({"data": terms_json(self.terms, await self.network.figures())})

    async def get_days(self, _request: web.Request) -> web.Response:
        return json_answer(
            {
                "data": [asdict(d) for d in self.duties.days()],
                "meta": {"period_epochs": self.duties.period_epochs},
            }
        )

    async def get_alerts(self, _request: web.Request) -> web.Response:
        return json_answer({"data": [asdict(a) for a in self.duties.alerts]})
