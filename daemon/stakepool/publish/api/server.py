"""The ledger HTTP API: ``/api/v1/…`` routes over a ``LedgerStore``, as an aiohttp sub-application.

Reads go through the store's async methods, which run on the ledger database's own thread
(``Database.read``), so a slow query never blocks the event loop that also serves ``/metrics`` and
follows the chain. Writes (delegations, payouts) need the bearer token (``auth.require_writer``)
and are one store transaction each: a request the ledger refuses changes nothing.

The daemon mounts it with ``build_app(registry, not_ready, api=LedgerApi(store, pool_id=…,
token=settings.http.token))``; the OpenAPI document of every route is served at
``/api/v1/openapi.json`` and the tests check the server against it.
"""

from __future__ import annotations

import re
from importlib import resources
from operator import itemgetter
from typing import Any

import structlog
from aiohttp import web
from pydantic import SecretStr

from stakepool import __version__
from stakepool.ledger.delegations import DelegationError, parse_json
from stakepool.ledger.delegations_gate import DelegationsGate, GateError
from stakepool.ledger.queries import QueryError, ValidatorSummary
from stakepool.ledger.store.interface import LedgerError, LedgerStore, PayoutError
from stakepool.publish.api import encode, params
from stakepool.publish.api.auth import require_writer, writer_token
from stakepool.publish.api.body import json_object, read_json
from stakepool.publish.api.errors import ApiError, error_middleware, json_answer
from stakepool.publish.api.statements import StatementRoutes

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
MAX_REFERENCE_LENGTH = 256
_DELEGATIONS_OPTIONS = ("replace", "effective_epoch")
_PAYOUT_FIELDS = frozenset({"delegator", "amount_gwei", "reference"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def openapi_document() -> bytes:
    """The OpenAPI 3.1 document of this API (shipped in the package next to this module)."""
    return resources.files("stakepool.publish.api").joinpath("openapi.json").read_bytes()


class LedgerApi:
    """Build once, mount with ``build_app(..., api=...)`` (or ``add_subapp(API_PREFIX, api.app())``).

    ``token``: the ``[http] token`` credential; ``None`` or empty → the write endpoints answer 403.
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        pool_id: str,
        token: SecretStr | str | None,
        version: str = __version__,
        gate: DelegationsGate | None = None,
    ) -> None:
        self.store = store
        self.gate = gate
        """Delegations file changes held for a confirmation (``None``: no file watched here)."""
        self.pool_id = pool_id
        self.version = version
        self._token = writer_token(token)  # blank (an empty credential file): writes off
        self._openapi = openapi_document()
        # The validator summaries need a pass over every validator row, so they are cached per
        # ledger version (settled and final epochs, reversals): ``GET /validators`` and telling
        # "unknown validator" (404) from "no rows in this range" then cost that pass at most once
        # per settled or finalized epoch, not once per request.
        self._validators: tuple[tuple[Any, ...], list[ValidatorSummary], frozenset[int]] | None = (
            None
        )

    @property
    def writes_enabled(self) -> bool:
        return self._token is not None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[error_middleware])
        get = app.router.add_get
        get("/openapi.json", self.openapi, allow_head=False)
        get("/status", self.status, allow_head=False)
        get("/pool", self.pool, allow_head=False)
        get("/pool/epochs", self.pool_epochs, allow_head=False)
        get("/validators", self.validators, allow_head=False)
        get("/validators/{index}/epochs", self.validator_epochs, allow_head=False)
        get("/delegators", self.delegators, allow_head=False)
        get("/delegators/{id}", self.delegator, allow_head=False)
        get("/delegators/{id}/epochs", self.delegator_epochs, allow_head=False)
        StatementRoutes(self.store).add_to(app)
        app.router.add_post("/delegations", self.post_delegations)
        get("/delegations/held", self.held_delegations, allow_head=False)
        app.router.add_post("/delegations/confirm", self.confirm_delegations)
        app.router.add_post("/payouts", self.post_payouts)
        return app

    # --- reads -----------------------------------------------------------------------------------

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self._openapi,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def status(self, _request: web.Request) -> web.Response:
        value = await self.store.status()
        return json_answer(
            {
                "data": encode.status(
                    value,
                    pool_id=self.pool_id,
                    version=self.version,
                    writes_enabled=self.writes_enabled,
                )
            }
        )

    async def pool(self, _request: web.Request) -> web.Response:
        return json_answer({"data": encode.pool(await self.store.pool_totals())})

    async def pool_epochs(self, request: web.Request) -> web.Response:
        epochs = params.epoch_range(request.query)
        rows = await self.store.pool_epochs(epochs)
        return json_answer({"data": [encode.pool_epoch(r) for r in rows]})

    async def validators(self, _request: web.Request) -> web.Response:
        rows, _known = await self._validator_summaries()
        return json_answer({"data": [encode.validator(r) for r in rows]})

    async def validator_epochs(self, request: web.Request) -> web.Response:
        index = params.parse_uint("index", request.match_info["index"])
        epochs = params.epoch_range(request.query)
        rows = await self.store.validator_epochs(index, epochs)
        days = await self.store.validator_days(index, epochs)
        if not rows and not days and index not in (await self._validator_summaries())[1]:
            raise ApiError(404, f"validator {index} is not in the ledger")
        # Day resolution beyond the detail's window (its epochs rolled up), epoch inside it.
        spans = [(d.sums.first_epoch, d.sums.last_epoch) for d in days]
        items = [(d.sums.first_epoch, encode.validator_day(d)) for d in days] + [
            (r.epoch, encode.validator_epoch(r))
            for r in rows
            if not any(a <= r.epoch <= b for a, b in spans)
        ]
        return json_answer({"data": [item for _epoch, item in sorted(items, key=itemgetter(0))]})

    async def _validator_summaries(self) -> tuple[list[ValidatorSummary], frozenset[int]]:
        state = await self.store.status()
        version = (state.last_settled_epoch, state.last_final_epoch, state.reversed_epochs)
        if self._validators is None or self._validators[0] != version:
            rows = await self.store.validators()
            self._validators = (version, rows, frozenset(v.validator_index for v in rows))
        return self._validators[1], self._validators[2]

    async def delegators(self, request: web.Request) -> web.Response:
        limit = params.limit(request.query)
        cursor = params.cursor(request.query)
        try:
            page = await self.store.delegators(cursor=cursor, limit=limit)
        except QueryError as exc:  # a cursor we never handed out
            raise ApiError(400, f"parameter 'cursor': {exc}") from exc
        return json_answer(
            {
                "data": [encode.delegator_summary(d) for d in page.items],
                "meta": {"limit": limit, "next_cursor": page.next_cursor},
            }
        )

    async def delegator(self, request: web.Request) -> web.Response:
        delegator_id = params.account_id("id", request.match_info["id"])
        detail = await self.store.delegator(delegator_id)
        if detail is None:
            raise ApiError(404, f"delegator {delegator_id!r} is not in the ledger")
        return json_answer({"data": encode.delegator(detail)})

    async def delegator_epochs(self, request: web.Request) -> web.Response:
        delegator_id = params.account_id("id", request.match_info["id"])
        epochs = params.epoch_range(request.query)
        rows = await self.store.delegator_epochs(delegator_id, epochs)
        if rows is None:
            raise ApiError(404, f"delegator {delegator_id!r} is not in the ledger")
        return json_answer({"data": [encode.delegator_epoch(r) for r in rows]})

    # --- writes ----------------------------------------------------------------------------------

    async def post_delegations(self, request: web.Request) -> web.Response:
        require_writer(request, self._token)
        body = json_object(await read_json(request))
        replace = body.get("replace", False)
        if not isinstance(replace, bool):
            raise ApiError(400, f"field 'replace': must be true or false, got {replace!r}")
        effective_epoch = _optional_epoch(body.get("effective_epoch"))
        try:
            delegations = parse_json(
                {k: v for k, v in body.items() if k not in _DELEGATIONS_OPTIONS}, "api"
            )
        except DelegationError as exc:
            raise ApiError(400, str(exc)) from exc
        try:
            result = await self.store.apply_delegations(
                delegations, effective_epoch=effective_epoch, replace_all=replace
            )
        except LedgerError as exc:
            raise ApiError(409, str(exc)) from exc
        log.info(
            "api_delegations_applied",
            effective_epoch=result.effective_epoch,
            changes=len(result.changes),
            replace=replace,
            remote=request.remote,
        )
        return json_answer({"data": encode.delegations_applied(result)})

    async def held_delegations(self, _request: web.Request) -> web.Response:
        held = None if self.gate is None else self.gate.held
        return json_answer({"data": None if held is None else encode.held_change(held)})

    async def confirm_delegations(self, request: web.Request) -> web.Response:
        """Confirm the held delegations file change by its SHA-256; the watcher applies it now."""
        require_writer(request, self._token)
        body = json_object(await read_json(request))
        unknown = sorted(set(body) - {"digest"})
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)}")
        digest = body.get("digest")
        if not isinstance(digest, str) or not _SHA256.match(digest.strip().lower()):
            raise ApiError(400, "field 'digest': the held change's SHA-256 (64 hex characters)")
        if self.gate is None:
            raise ApiError(409, "no delegations file is watched: nothing can be held")
        try:
            held = self.gate.confirm(digest)
        except GateError as exc:
            raise ApiError(409, str(exc)) from exc
        log.warning(
            "api_delegations_confirmed",
            file=held.file,
            digest=held.digest,
            weight_removed_gwei=str(held.weight_removed_gwei),
            remote=request.remote,
        )
        return json_answer({"data": encode.held_change(held)}, status=202)

    async def post_payouts(self, request: web.Request) -> web.Response:
        require_writer(request, self._token)
        body = json_object(await read_json(request))
        unknown = sorted(set(body) - _PAYOUT_FIELDS)
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)}")
        delegator_raw = body.get("delegator")
        if not isinstance(delegator_raw, str):
            raise ApiError(400, "field 'delegator': a delegator id (string) is required")
        delegator_id = params.account_id("delegator", delegator_raw)
        amount = _positive_gwei("amount_gwei", body.get("amount_gwei"))
        reference = body.get("reference")
        if reference is not None and (
            not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH
        ):
            raise ApiError(
                400, f"field 'reference': a string of at most {MAX_REFERENCE_LENGTH} characters"
            )
        if await self.store.delegator(delegator_id) is None:
            raise ApiError(404, f"delegator {delegator_id!r} is not in the ledger")
        try:
            record = await self.store.record_payout(delegator_id, amount, reference=reference)
        except PayoutError as exc:
            raise ApiError(409, str(exc)) from exc
        log.info(
            "api_payout_recorded",
            payout_id=record.id,
            delegator=delegator_id,
            amount_gwei=amount,
            remote=request.remote,
        )
        return json_answer({"data": encode.payout(record)}, status=201)


def _optional_epoch(value: object) -> int | None:
    if value is None:
        return None
    return _integer("effective_epoch", value, minimum=0)


def _positive_gwei(name: str, value: object) -> int:
    if value is None:
        raise ApiError(400, f"field {name!r}: required (a decimal string of Gwei)")
    return _integer(name, value, minimum=1)


def _integer(name: str, value: object, *, minimum: int) -> int:
    """A JSON integer or a decimal string (amounts travel as strings, like the Beacon API)."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise ApiError(400, f"field {name!r}: must be a decimal integer, got {value[:40]!r}")
        return _bounded(name, int(value), minimum)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(
            400, f"field {name!r}: must be a decimal string or an integer, got {value!r}"
        )
    return _bounded(name, value, minimum)


def _bounded(name: str, value: int, minimum: int) -> int:
    if not minimum <= value <= params.MAX_INTEGER:
        raise ApiError(
            400, f"field {name!r}: must be in {minimum}..{params.MAX_INTEGER}, got {value}"
        )
    return value
