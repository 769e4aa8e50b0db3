"""Shared constants and helpers of the client integration tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from stakepool.beacon.client import BeaconClient
from tests.integration.beacon.fakenode import FakeNode, Reply
from tests.unit.beacon.fixtures import load

Nodes = Callable[[], Awaitable[FakeNode]]
MakeClient = Callable[..., BeaconClient]

GENESIS = load("genesis").body
GENESIS_PATH = "/eth/v1/beacon/genesis"
OTHER_CHAIN = {"data": {**GENESIS["data"], "genesis_validators_root": "0x" + "77" * 32}}
VALIDATORS = "/eth/v1/beacon/states/head/validators"
BALANCES = "/eth/v1/beacon/states/head/validator_balances"


def serve(node: FakeNode, name: str, path: str | None = None, **headers: str) -> None:
    fx = load(name)
    node.on(fx.method, path or fx.path, Reply(fx.status, fx.body, {**fx.headers, **headers}))
