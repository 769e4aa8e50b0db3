"""Several beacon nodes in order of preference, used as one.

A request goes to the first usable node. A node that cannot be reached is skipped for a growing,
jittered window (sticky offline, so we do not pay its timeout on every call) and tried again when
the window expires. A node whose answer is useless (5xx, 503, malformed) is passed over for this
request and loses score, but stays in line. A node that lacks a route is remembered per route and
not asked again until ``unsupported_ttl`` has passed. Data answers (404 data, 400) end the search:
another node would say the same.

When every node is inside its offline window, each is still asked once (without retries) rather
than failing without asking.

Once the chain's ``genesis_validators_root`` is known, a node is verified before its first use.
A node on another chain is excluded for good when the reference is backed (configured, or the
majority's: ``genesis_trust``); against a provisional reference it puts the pool in conflict:
no node is used, and every request says why, until the operator sets ``[beacon] genesis_root``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from stakepool.beacon import routes
from stakepool.beacon.backoff import Backoff
from stakepool.beacon.errors import (
    BadRequest,
    BeaconError,
    GenesisConflict,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    NotReady,
    Unsupported,
    WrongChain,
)
from stakepool.beacon.genesis_trust import backed_by, conflict_message
from stakepool.beacon.health import HealthTracker, NodeHealth
from stakepool.beacon.models import Envelope, Genesis, parse_as
from stakepool.beacon.routes import Route
from stakepool.beacon.status import classify
from stakepool.beacon.transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpAnswer,
    NodeTransport,
    Query,
    TransportError,
    retry_after_seconds,
)
from stakepool.chain.redact import split_userinfo

log = structlog.get_logger(__name__)

T = TypeVar("T")
Parser = Callable[[HttpAnswer, str], T]


@dataclass(slots=True)
class Node:
    transport: NodeTransport
    health: HealthTracker
    unsupported: dict[str, float] = field(default_factory=dict)
    """Route name → monotonic time the node said it lacks the route."""
    verified_root: str | None = None

    @property
    def url(self) -> str:
        return self.transport.url


class NodePool:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float,
        connect_timeout: float,
        retries: int,
        retry_backoff: Backoff,
        offline_backoff: Backoff,
        unsupported_ttl: float,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
        auth: str | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one beacon node URL is required")
        # The node's name in logs, metrics and errors is its URL without credentials: they go
        # into the transport's Authorization header only.
        split = [split_userinfo(u.rstrip("/")) for u in urls]
        cleaned = [url for url, _ in split]
        if len(set(cleaned)) != len(cleaned):
            raise ValueError(f"beacon node URLs listed twice: {cleaned}")  # no credentials
        self._monotonic = monotonic
        self.unsupported_ttl = unsupported_ttl
        self.expected_root: str | None = None
        self.root_backed = False
        self.root_source = "configured [beacon] genesis_root"
        """The reference is configured or a majority's; else provisional (see module doc)."""
        self.agreeing: dict[str, str] = {}
        """URL → root for every node checked so far (the reference's and any other)."""
        self.conflict: str | None = None
        """Set when the nodes disagree and nothing says which is right: no node is used."""
        self.nodes: list[Node] = []
        for url, url_auth in split:
            health = HealthTracker(url, offline_backoff=offline_backoff, monotonic=monotonic)
            transport = NodeTransport(
                url,
                health,
                auth=url_auth or auth,
                timeout=timeout,
                connect_timeout=connect_timeout,
                retries=retries,
                retry_backoff=retry_backoff,
                max_response_bytes=max_response_bytes,
            )
            self.nodes.append(Node(transport, health))

    async def close(self) -> None:
        for node in self.nodes:
            await node.transport.close()

    def health(self) -> list[NodeHealth]:
        return [
            dataclasses.replace(n.health.snapshot(), unsupported=frozenset(n.unsupported))
            for n in self.nodes
        ]

    def lacks(self, node: Node, route: Route) -> bool:
        since = node.unsupported.get(route.name)
        if since is None:
            return False
        if self._monotonic() - since >= self.unsupported_ttl:
            del node.unsupported[route.name]  # re-probe: the node may have been upgraded
            return False
        return True

    def candidates(self, route: Route, only: str | None = None) -> list[tuple[Node, bool]]:
        """Nodes to try, in order, each with ``probe`` (True: one attempt, no retries)."""
        if self.conflict is not None:
            raise GenesisConflict(route.name, self.conflict)
        nodes = [n for n in self.nodes if n.health.excluded is None]
        if only is not None:
            nodes = [n for n in nodes if n.url == only.rstrip("/")]
            if not nodes:
                raise NodeUnavailable(route.name, f"no usable node {only}")
        supported = [n for n in nodes if not self.lacks(n, route)]
        if not supported:
            if not nodes:
                raise NodeUnavailable(route.name, "every node is excluded (wrong chain)")
            raise Unsupported(route.name, message="no node serves this route (remembered)")
        usable = [n for n in supported if n.health.usable_now()]
        if usable:
            return [(n, False) for n in usable]
        return [(n, True) for n in supported]

    async def call(
        self,
        route: Route,
        parse: Parser[T],
        *,
        params: Mapping[str, object] | None = None,
        query: Query | None = None,
        body: Any = None,
        request_timeout: float | None = None,
        node: str | None = None,
    ) -> T:
        path = route.path(**(params or {}))
        failures: list[BeaconError] = []
        for candidate, probe in self.candidates(route, node):
            if not await self._verify(candidate, probe):
                continue
            try:
                answer = await candidate.transport.request(
                    route,
                    path,
                    query=query,
                    body=body,
                    request_timeout=request_timeout,
                    retries=0 if probe else None,
                )
            except TransportError as exc:
                candidate.health.unreachable(str(exc))
                failures.append(NodeUnavailable(route.name, str(exc), node=candidate.url))
                continue
            error = classify(route, answer, candidate.url)
            if error is None:
                try:
                    result = parse(answer, candidate.url)
                except MalformedResponse as exc:
                    error = exc
                else:
                    candidate.health.success()
                    return result
            if isinstance(error, MalformedResponse):
                candidate.health.answered_badly(f"malformed: {error.field}")
                log.warning(
                    "beacon_response_malformed",
                    node=candidate.url,
                    endpoint=route.name,
                    field=error.field,
                    reason=error.reason,
                )
                failures.append(error)
                continue
            if isinstance(error, Unsupported):
                candidate.health.success()  # it answered; it just lacks the route
                if route.name not in candidate.unsupported:
                    log.info("beacon_endpoint_unsupported", node=candidate.url, endpoint=route.name)
                candidate.unsupported[route.name] = self._monotonic()
                failures.append(error)
                continue
            if isinstance(error, (NotFound, BadRequest)):
                candidate.health.success()
                raise error
            candidate.health.answered_badly(error.message)
            if answer.status == 429:
                wait = retry_after_seconds(answer.headers.get("retry-after"))
                candidate.health.hold_off(min(wait or 1.0, 60.0))
            failures.append(error)
        raise _combine(route, failures)

    async def _verify(self, node: Node, probe: bool) -> bool:
        """Make sure ``node`` is on the expected chain before using it (once per node)."""
        expected = self.expected_root
        if expected is None or node.verified_root == expected:
            return True
        try:
            answer = await node.transport.request(
                routes.GENESIS, routes.GENESIS.path(), retries=0 if probe else None
            )
        except TransportError as exc:
            node.health.unreachable(str(exc))
            return False
        if classify(routes.GENESIS, answer, node.url) is not None:
            node.health.answered_badly("genesis check failed")
            return False
        try:
            genesis = parse_genesis(answer, node.url)
        except MalformedResponse:
            node.health.answered_badly("malformed genesis")
            return False
        root = genesis.genesis_validators_root
        self.agreeing[node.url] = root
        if root != expected:
            if self.root_backed:
                self.exclude(node, WrongChain(node.url, expected, root))
            else:
                self.declare_conflict()
            return False
        node.verified_root = expected
        agreeing = sum(r == expected for r in self.agreeing.values())
        self.root_backed = self.root_backed or backed_by(agreeing, len(self.nodes))
        return True

    def declare_conflict(self) -> None:
        message = conflict_message(self.agreeing)
        if message != self.conflict:
            log.error("beacon_nodes_disagree_on_the_chain", reason=message)
        self.conflict = message

    def exclude(self, node: Node, error: WrongChain) -> None:
        if node.health.excluded is None:
            log.error(
                "beacon_node_wrong_chain",
                node=node.url,
                expected=error.expected,
                actual=error.actual,
                reference=self.root_source,
            )
        node.health.excluded = str(error)


def parse_genesis(answer: HttpAnswer, node: str) -> Genesis:
    return parse_as(Envelope[Genesis], answer.body, routes.GENESIS.name, node=node).data


def _combine(route: Route, failures: list[BeaconError]) -> BeaconError:
    if not failures:
        return NodeUnavailable(route.name, "no node could be asked")
    unsupported = [f for f in failures if isinstance(f, Unsupported)]
    malformed = [f for f in failures if isinstance(f, MalformedResponse)]
    if unsupported and not malformed:
        # Some node lacks the route and the others are down: let the caller use its fallback.
        return unsupported[0]
    if malformed:
        return malformed[0]
    if all(isinstance(f, NotReady) for f in failures):
        return NotReady(route.name, "; ".join(f"{f.node}: {f.message}" for f in failures))
    summary = "; ".join(f"{f.node}: {f.message}" for f in failures)
    return NodeUnavailable(route.name, f"no node answered ({summary})")
