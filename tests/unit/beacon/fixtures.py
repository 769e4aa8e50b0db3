"""Loading the recorded Beacon API fixtures in ``tests/fixtures/beacon``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stakepool.beacon.transport import HttpAnswer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"


@dataclass(frozen=True)
class Fixture:
    name: str
    method: str
    path: str
    query: dict[str, Any] | None
    request_body: Any
    status: int
    body: Any
    headers: dict[str, str]
    spec_valid: bool

    def answer(self) -> HttpAnswer:
        return HttpAnswer(self.status, self.body, json.dumps(self.body), self.headers, True)


@cache
def load(name: str) -> Fixture:
    raw = json.loads((FIXTURES / f"{name}.json").read_text())
    request, response = raw["request"], raw["response"]
    return Fixture(
        name=name,
        method=request["method"],
        path=request["path"],
        query=request.get("query"),
        request_body=request.get("body"),
        status=response["status"],
        body=response["body"],
        headers=response.get("headers", {}),
        spec_valid=raw["spec_valid"],
    )


def names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if p.stem != "events")


def events() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "events.json").read_text())
    return loaded
