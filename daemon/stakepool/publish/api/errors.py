"""How the ledger API fails: one JSON shape, ``{"code": <status>, "message": "..."}``, for every error.

The middleware turns our own ``ApiError`` and aiohttp's routing errors (404, 405) into that shape,
and anything unexpected into a 500 that names no internals (it is logged with its traceback), so a
bad request or a bug in one handler never takes the daemon down. Every answer of the API, good or
bad, carries ``Cache-Control: no-store``: balances change every epoch and a proxy must not keep them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from stakepool.store.database import DatabaseError
from stakepool.store.writer import NotWriterError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_STORE = "no-store"


class ApiError(Exception):
    """An error answer: HTTP ``status`` and a message a user can act on."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_param(name: str, problem: str) -> ApiError:
    return ApiError(400, f"parameter {name!r}: {problem}")


def json_answer(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": NO_STORE})


def error_answer(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    answer = json_answer({"code": status, "message": message}, status=status)
    answer.headers.update(headers or {})
    return answer


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        answer = await handler(request)
    except ApiError as exc:
        return error_answer(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        # Routing errors raised by aiohttp itself: unknown path, wrong method.
        if exc.status == 404:
            return error_answer(404, f"no such endpoint: {request.path}")
        if exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            return error_answer(
                405,
                f"method {request.method} not allowed here (allowed: {allowed})",
                {"Allow": allowed},
            )
        return error_answer(exc.status, exc.reason)
    except NotWriterError as exc:
        # A standby (several instances on one PostgreSQL ledger): the writer takes writes.
        return error_answer(409, str(exc))
    except DatabaseError as exc:
        log.error("api_database_error", path=request.path, error=str(exc))
        return error_answer(503, "the ledger database is unavailable")
    except Exception:
        log.exception("api_handler_failed", method=request.method, path=request.path)
        return error_answer(500, "internal error (logged by the daemon)")
    answer.headers.setdefault("Cache-Control", NO_STORE)
    return answer


def add_read_route(app: web.Application, path: str, handler: Handler) -> None:
    """``GET path`` on the main app, beside the ledger's sub-app at the same prefix."""
    add_only_route(app, "GET", path, handler)


def add_only_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """``method path`` on the main app, beside the ledger's sub-app at the same prefix.

    Any other method is refused with 405 here: otherwise aiohttp asks the sub-app next, whose
    answer for a path it does not know is 404 — wrong for a path that exists.
    """

    async def refuse(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMethodNotAllowed(request.method, [method])

    if method == "GET":
        app.router.add_get(path, handler, allow_head=False)
    else:
        app.router.add_route(method, path, handler)
    app.router.add_route("*", path, refuse)
