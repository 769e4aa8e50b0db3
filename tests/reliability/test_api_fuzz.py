"""The HTTP API fuzzed from its own OpenAPI document with schemathesis, against a real
``stakepool run`` that follows ``stakepool sim`` and has settled some epochs: valid and invalid
parameters, bodies and credentials. No answer is a 500, every answer is one the document allows
(status, content type, body schema)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from stakepool.publish.api import openapi_document
from tests.integration.money.moneykit import settled
from tests.integration.processes import STAKEPOOL, clean_env, free_port, simulator
from tests.reliability.rig import DELEGATIONS, SOAK
from tests.reliability.tally import TALLY

TOKEN = "fuzzing token"
EXAMPLES = 300 if SOAK else 25
"""Examples per operation."""

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi_document()))


class Target:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.base = base
        self.proc = proc
        self.log = log


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A daemon with a ledger of a few settled epochs, its write endpoints on (a token)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "delegations.toml").write_text(DELEGATIONS, encoding="utf-8")
    creds = tmp / "credentials"
    creds.mkdir()
    (creds / "http_token").write_text(TOKEN, encoding="utf-8")
    port = free_port()
    with simulator(tmp, slot_seconds="0.25") as url:
        (tmp / "fuzz.toml").write_text(
            f'[beacon]\nurls = ["{url}"]\n[pool]\nid = "fuzz"\nvalidators = [0, 1, 2, 3]\n'
            f'delegations_file = "{tmp / "delegations.toml"}"\nfee_bps = 500\n'
            f'[http]\nport = {port}\n[ledger]\ndatabase = "{tmp / "fuzz.sqlite"}"\n'
            '[log]\nformat = "json"\n',
            encoding="utf-8",
        )
        log = tmp / "fuzz.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*STAKEPOOL, "run", "--config", str(tmp / "fuzz.toml")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_env(CREDENTIALS_DIRECTORY=str(creds)),
            )
        try:
            deadline = time.monotonic() + 90
            while settled(tmp / "fuzz.sqlite")[0] < 3:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"no settled epochs: {log.read_text()}"
                time.sleep(0.2)
            yield Target(f"http://127.0.0.1:{port}", proc, log)
        finally:
            crashed = proc.poll() is not None
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            if crashed or code != 0:
                TALLY.crashed(1, known=False)
    assert not crashed, f"the daemon died under fuzzing: {log.read_text()[-3000:]}"
    assert code == 0, f"the daemon stopped with {code}: {log.read_text()[-3000:]}"


def _exercise(case: schemathesis.Case[Any], target: Target) -> None:
    headers = None
    if case.operation.method.upper() == "POST" and "Authorization" not in (case.headers or {}):
        headers = {"Authorization": f"Bearer {TOKEN}"}  # writes on: the bodies get fuzzed too
    TALLY.api_requests_fuzzed += 1
    response = case.call(base_url=target.base, headers=headers, timeout=10)
    assert target.proc.poll() is None, f"the daemon died: {target.log.read_text()[-3000:]}"
    assert response.status_code < 500, (response.status_code, response.text[:500])
    # A request the schema admits may still be refused with a documented 400 for what a schema
    # cannot say (a range over 1000 epochs, `to` before `from`, `within=0`): every other check
    # stays, the schema-violating request that is accepted above all.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@SCHEMA.parametrize()
@FUZZ
def test_api_answers_what_its_document_says(case: schemathesis.Case[Any], target: Target) -> None:
    _exercise(case, target)


def _raw(target: Target, method: str, path: str, *, headers: dict[str, bytes], body: bytes) -> int:
    """One request sent byte for byte (http.client would refuse non-ASCII header values)."""
    TALLY.api_requests_fuzzed += 1
    port = int(target.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        for name, value in {**headers, "Content-Length": str(len(body)).encode()}.items():
            head += name.encode() + b": " + value + b"\r\n"
        sock.sendall(head + b"\r\n" + body)
        status_line = sock.makefile("rb").readline()
    assert target.proc.poll() is None, f"the daemon died: {target.log.read_text()[-3000:]}"
    return int(status_line.split()[1])


@given(token=st.binary(min_size=1, max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b))
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True)
def test_any_authorization_bytes_are_refused_not_a_500(target: Target, token: bytes) -> None:
    body = b'{"delegations": []}'
    status = _raw(
        target,
        "POST",
        "/api/v1/delegations",
        headers={"Authorization": b"Bearer " + token, "Content-Type": b"application/json"},
        body=body,
    )
    assert status in (400, 401), status  # refused, never a 500


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"delegations": [{"delegator": "d", "amount_gwei": "' + b"9" * 5000 + b'", '
        b'"from_epoch": 0}]}',
        b'{"delegator": "d", "amount_gwei": ' + b"9" * 5000 + b', "reference": "r"}',
    ],
    ids=["deep_json", "delegation_5000_digits", "payout_json_number_5000_digits"],
)
def test_hostile_bodies_are_refused_not_a_500(target: Target, body: bytes) -> None:
    path = "/api/v1/payouts" if b"reference" in body else "/api/v1/delegations"
    headers = {"Authorization": f"Bearer {TOKEN}".encode(), "Content-Type": b"application/json"}
    status = _raw(target, "POST", path, headers=headers, body=body)
    assert 400 <= status < 500, status


def test_a_cursor_never_issued_is_refused(target: Target) -> None:
    status = _raw(target, "GET", "/api/v1/delegators?cursor=not-a-cursor", headers={}, body=b"")
    assert status == 400, status
