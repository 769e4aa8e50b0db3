"""The published OpenAPI document and the server describe the same API, route for route."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from stakepool.chain.bus import EventBus
from stakepool.config import Settings
from stakepool.ledger.store.sqlite_ledger import SqliteLedgerStore
from stakepool.monitor.forecast import DutyForecast
from stakepool.publish.api import API_PREFIX, LedgerApi, openapi_document
from stakepool.publish.api.duties import add_duties_route
from stakepool.publish.http import add_doppelganger_route, build_app
from stakepool.publish.web import mount_web
from stakepool.publish.web.api import ROUTES as WEB_ROUTES
from tests.integration.api.conftest import ApiClient
from tests.integration.api.contract import spec_operations

WEB_OPERATIONS = {("GET", path) for path in WEB_ROUTES}
"""Documented in the same document, served only when ``[web]`` enables the page."""


def served_operations(app: web.Application) -> set[tuple[str, str]]:
    """``{(METHOD, path template)}`` of every route under the API prefix, sub-apps included."""
    found: set[tuple[str, str]] = set()

    def walk(application: web.Application) -> None:
        for resource in application.router.resources():
            if isinstance(resource, web.PrefixedSubAppResource):
                # No public accessor for the mounted app; its routes carry the prefix already.
                walk(resource._app)
                continue
            for route in resource:
                if route.method != "*":  # the 405 answer to every other method (add_read_route)
                    found.add((route.method, resource.canonical))

    walk(app)
    return {(m, p) for m, p in found if p.startswith(API_PREFIX + "/")}


async def _no_forecast() -> DutyForecast | None:
    return None


async def _not_following() -> dict[str, object] | None:
    return None


def _daemon_routes(app: web.Application) -> None:
    """What the daemon adds beside the ledger's sub-app: duties next and the doppelganger check."""
    add_duties_route(app, _no_forecast)
    add_doppelganger_route(app, _not_following, token=None)


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = json.loads(openapi_document())
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_route_is_documented_and_every_documented_route_exists(
    ledger: SqliteLedgerStore,
) -> None:
    api = LedgerApi(ledger, pool_id="alpha", token=None)
    app = build_app(CollectorRegistry(), lambda: None, api=api)
    _daemon_routes(app)
    served = served_operations(app)
    assert served == spec_operations() - WEB_OPERATIONS
    assert (
        len(served) == 19
    )  # with GET /delegations/held, POST /delegations/confirm and doppelganger


def test_with_the_web_page_its_json_routes_are_served_and_documented(
    ledger: SqliteLedgerStore, tmp_path: Path
) -> None:
    app = build_app(
        CollectorRegistry(), lambda: None, api=LedgerApi(ledger, pool_id="alpha", token=None)
    )
    settings = Settings(ledger={"database": str(tmp_path / "unused.sqlite")})
    _daemon_routes(app)
    face = mount_web(
        app, settings, ledger, EventBus(), client=None, spec=lambda: None, pool=frozenset
    )
    assert face is not None
    assert served_operations(app) == spec_operations()


def test_without_an_api_the_app_has_no_api_routes() -> None:
    assert served_operations(build_app(CollectorRegistry(), lambda: None)) == set()


async def test_the_served_document_is_the_packaged_one(client: ApiClient) -> None:
    answer = await client.get("/api/v1/openapi.json")
    assert answer.raw == openapi_document()
    assert answer.headers["Content-Type"].startswith("application/json")


async def test_metrics_and_probes_still_answer_beside_the_api(client: ApiClient) -> None:
    async with client.session.get(client.base + "/healthz") as healthz:
        assert healthz.status == 200
    async with client.session.get(client.base + "/metrics") as metrics:
        assert metrics.status == 200
