"""The web face: ``/`` (the pool), ``/delegators/{id}`` and ``/static/…``, server-rendered.

Server-rendered with Jinja2 (autoescaped) rather than a JavaScript front end: the essentials must
work with JavaScript off, every page is a handful of store reads the API already makes, and there
is no build step or bundled toolchain to keep in the repository. The only script (``copy.js``)
adds a copy button; charts are inline SVG drawn here. Templates and assets are package data
(``importlib.resources``), so the wheel carries them and nothing is fetched from elsewhere.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import jinja2
from aiohttp import web

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.statement_format import CSV_COLUMNS, csv_row, eth
from stakepool.ledger.store.interface import LedgerStore
from stakepool.publish.api import params
from stakepool.publish.api.errors import ApiError
from stakepool.publish.web import views
from stakepool.publish.web.api import WebApi
from stakepool.publish.web.duties import DutyHistory
from stakepool.publish.web.network import NetworkView

_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
# Everything the page loads comes from this origin; inline SVG needs no source at all.
_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stakepool.publish.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["gwei"] = views.gwei
    env.filters["eth"] = lambda v: "unknown" if v is None else eth(int(v))
    env.filters["pct"] = lambda n, d: "—" if not d else f"{100 * n / d:.2f} %"
    return env


class WebFace:
    """Mount with ``face.add_to(app)`` on the daemon's HTTP application."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        pool_id: str,
        policy: LedgerPolicy,
        notice_period_epochs: int,
        delegator_pages: bool,
        duties: DutyHistory,
        network: NetworkView,
    ) -> None:
        self.store = store
        self.pool_id = pool_id
        self.terms = views.Terms(policy, notice_period_epochs)
        self.delegator_pages = delegator_pages
        self.duties = duties
        self.network = network
        self.env = _environment()
        self._validators = views.ValidatorCount()

    def add_to(self, app: web.Application) -> None:
        get = app.router.add_get
        get("/", self.pool)
        get("/static/{name}", self.static)
        WebApi(self.terms, self.duties, self.network).add_to(app)
        if self.delegator_pages:
            get("/delegators/{id}", self.delegator)
            get("/delegators/{id}/statements.csv", self.statements_csv)

    def _render(self, template: str, status: int = 200, **context: object) -> web.Response:
        body = self.env.get_template(template).render(pool_id=self.pool_id, **context)
        return web.Response(
            text=body,
            status=status,
            content_type="text/html",
            headers={
                "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    async def pool(self, _request: web.Request) -> web.Response:
        page = await views.pool_page(self.store, self._validators)
        return self._render(
            "pool.html",
            page=page,
            terms=self.terms,
            network=await self.network.figures(),
            days=self.duties.days(),
            alerts=list(self.duties.alerts),
            delegator_pages=self.delegator_pages,
            period_epochs=self.store.period_epochs,
        )

    async def delegator(self, request: web.Request) -> web.Response:
        delegator_id = self._id(request)
        page = await views.delegator_page(
            self.store,
            delegator_id,
            policy=self.terms.policy,
            api_url=f"{request.scheme}://{request.host}",
        )
        if page is None:
            return self._render("missing.html", status=404, what=f"delegator {delegator_id}")
        return self._render("delegator.html", page=page, delegator_id=delegator_id)

    async def statements_csv(self, request: web.Request) -> web.Response:
        delegator_id = self._id(request)
        rows = await self.store.statements(delegator_id, None, None)
        if rows is None:
            raise web.HTTPNotFound(text=f"delegator {delegator_id!r} is not in the ledger")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(v) for v in rows)
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="statements-{_safe(delegator_id)}.csv"'
            },
        )

    @staticmethod
    def _id(request: web.Request) -> str:
        try:
            return params.account_id("id", request.match_info["id"])
        except ApiError as exc:
            raise web.HTTPNotFound(text=str(exc)) from exc

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = _STATIC_TYPES.get(name[name.rfind(".") :]) if "." in name else None
        node = resources.files("stakepool.publish.web").joinpath("static", name)
        if kind is None or "/" in name or name.startswith(".") or not node.is_file():
            raise web.HTTPNotFound()
        return web.Response(
            body=node.read_bytes(),
            content_type=kind,
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:64]
