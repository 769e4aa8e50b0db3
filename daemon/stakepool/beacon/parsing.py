"""Parsers from an ``HttpAnswer`` to typed models, shared by the client's methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel

from stakepool.beacon.errors import MalformedResponse
from stakepool.beacon.failover import Parser
from stakepool.beacon.models import Envelope, parse_as
from stakepool.beacon.routes import Route
from stakepool.beacon.transport import HttpAnswer

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Envelope[Any])
R = TypeVar("R")
CONSENSUS_VERSION = "Eth-Consensus-Version"


def json_body(route: Route, answer: HttpAnswer, node: str) -> Any:
    if answer.oversize:
        raise MalformedResponse(
            route.name, "<body>", "larger than the response size cap", node=node
        )
    if not answer.is_json:
        raise MalformedResponse(route.name, "<body>", "not JSON", node=node)
    if answer.body is None and answer.raw is not None:
        # A ``typed`` route's body stays undecoded for its column decoder; a generic parser of
        # the same route (the web page reads the whole set as models) decodes it here.
        try:
            return msgspec.json.decode(answer.raw)
        except msgspec.DecodeError as exc:
            raise MalformedResponse(route.name, "<body>", f"not JSON: {exc}", node=node) from exc
    return answer.body


def model_parser(route: Route, model: type[M]) -> Parser[M]:
    def parse(answer: HttpAnswer, node: str) -> M:
        return parse_as(model, json_body(route, answer, node), route.name, node=node)

    return parse


def envelope_parser(route: Route, model: type[E]) -> Parser[E]:
    """Like ``model_parser``; the fork version falls back to the ``Eth-Consensus-Version`` header."""

    def parse(answer: HttpAnswer, node: str) -> E:
        env = parse_as(model, json_body(route, answer, node), route.name, node=node)
        header = next(
            (v for k, v in answer.headers.items() if k.lower() == "eth-consensus-version"), None
        )
        if env.version is None and header:
            return env.model_copy(update={"version": header.strip().lower()})
        return env

    return parse


def raw_parser(route: Route, decode: Callable[..., R]) -> Parser[R]:
    """For a ``typed`` route: ``decode(raw, endpoint, node=, header_version=)`` reads the body
    once, straight into its final shape; the fork version may come from the header."""

    def parse(answer: HttpAnswer, node: str) -> R:
        raw = answer.raw
        if raw is None:  # an answer built without its bytes (tests, recorded fixtures)
            raw = msgspec.json.encode(json_body(route, answer, node))
        header = next(
            (v for k, v in answer.headers.items() if k.lower() == "eth-consensus-version"), None
        )
        version = header.strip().lower() if header else None
        return decode(raw, route.name, node=node, header_version=version)

    return parse
