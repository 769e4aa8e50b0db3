"""The shipped Alertmanager file in a real Alertmanager (Debian's ``prometheus-alertmanager``): a
slashing and a dead beacon node page PagerDuty with the key from its file, a stale-data warning of
the same sidecar is inhibited, the same warning of another sidecar reaches Slack.

Only what cannot run here changes in the test's copy: the notification endpoints move to a sink on
127.0.0.1 (PagerDuty's ``url``, the Slack webhook file, the mail relay), the secret files to the
test's directory, and the waits to a second. Routes, grouping, matchers and inhibitions are the
shipped ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.alerting.test_alertmanager import ALERTMANAGER
from tests.integration.processes import free_port

ROUTING_KEY = "r0utingkey0123456789abcdef012345"  # an Events v2 integration key is 32 characters
DEADLINE = 30.0


@dataclass
class Sink:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it, by path."""

    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for where, body in self.received if where == path]


@pytest.fixture
def sink() -> Iterator[Sink]:
    holder: list[Sink] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with holder[0].lock:
                holder[0].received.append((self.path, body))
            self.send_response(202 if self.path == "/pagerduty" else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "success"}')

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Sink(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _local_copy(tmp_path: Path, sink: Sink) -> Path:
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER.read_text())
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pagerduty_routing_key").write_text(ROUTING_KEY)
    (secrets / "slack_webhook_url").write_text(f"{sink.url}/slack")
    (secrets / "smtp_password").write_text("unused")
    glob = config["global"]
    glob["slack_api_url_file"] = str(secrets / "slack_webhook_url")
    glob["smtp_auth_password_file"] = str(secrets / "smtp_password")
    # Nothing listens there: mail fails (and is retried) on loopback, never leaves the machine.
    glob["smtp_smarthost"] = f"127.0.0.1:{free_port()}"
    glob["smtp_require_tls"] = False
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            assert (
                pagerduty["routing_key_file"] == "/etc/alertmanager/secrets/pagerduty_routing_key"
            )
            pagerduty["routing_key_file"] = str(secrets / "pagerduty_routing_key")
            pagerduty["url"] = f"{sink.url}/pagerduty"
    routes = [config["route"], *config["route"]["routes"]]
    for route in routes:
        for timer in ("group_wait", "group_interval"):
            if timer in route:
                route[timer] = "1s"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def alertmanager(tmp_path: Path, sink: Sink) -> Iterator[str]:
    exe = shutil.which("prometheus-alertmanager")
    if exe is None:
        pytest.fail("prometheus-alertmanager is not installed: run ./scripts/test")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            exe,
            f"--config.file={_local_copy(tmp_path, sink)}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: one instance
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while not _ready(url):
            assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
            assert time.monotonic() < deadline, "Alertmanager did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _alert(name: str, severity: str, instance: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {
            "alertname": name,
            "severity": severity,
            "job": "stakepool",
            "instance": instance,
            "pool": "alpha",
        },
        "annotations": {
            "summary": f"{name} on {instance}",
            "description": f"{name} fired on {instance}",
            "runbook_url": f"https://github.com/stakepool/stakepool/blob/main/docs/runbook.md#{name.lower()}",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


def _api(url: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/api/v2{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def _wait(check: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_pages_inhibits_and_posts_as_the_file_says(alertmanager: str, sink: Sink) -> None:
    _api(
        alertmanager,
        "/alerts",
        [
            _alert("StakepoolAllBeaconNodesDown", "critical", "sp-1:9464"),
            _alert("StakepoolBeaconDataStale", "warning", "sp-1:9464"),
            _alert("StakepoolBeaconDataStale", "warning", "sp-2:9464"),
            _alert("StakepoolValidatorSlashed", "critical", "sp-1:9464"),
        ],
    )

    def states() -> dict[tuple[str, str], list[str]] | None:
        alerts = _api(alertmanager, "/alerts")
        if len(alerts) < 4:
            return None
        found = {
            (a["labels"]["alertname"], a["labels"]["instance"]): a["status"]["inhibitedBy"]
            for a in alerts
        }
        # Alertmanager marks an alert inhibited once its inhibitor has seen both alerts, a moment
        # after they are listed: the four alone raced that (one CI run read no inhibition yet).
        return found if found.get(("StakepoolBeaconDataStale", "sp-1:9464")) else None

    inhibited = _wait(states, "the four alerts, the stale one inhibited by the outage")
    assert inhibited[("StakepoolBeaconDataStale", "sp-1:9464")]  # no node: staleness is no news
    assert not inhibited[("StakepoolBeaconDataStale", "sp-2:9464")]  # another sidecar's is
    assert not inhibited[("StakepoolValidatorSlashed", "sp-1:9464")]
    assert not inhibited[("StakepoolAllBeaconNodesDown", "sp-1:9464")]

    # Two critical groups (pool × alertname): two PagerDuty Events v2 triggers with the file's key.
    pages = _wait(
        lambda: len(sink.bodies("/pagerduty")) >= 2 and sink.bodies("/pagerduty"), "pages"
    )
    assert {page["routing_key"] for page in pages} == {ROUTING_KEY}
    assert {page["event_action"] for page in pages} == {"trigger"}
    assert {page["payload"]["severity"] for page in pages} == {"critical"}
    summaries = " ".join(page["payload"]["summary"] for page in pages)
    assert "StakepoolValidatorSlashed" in summaries
    assert "StakepoolAllBeaconNodesDown" in summaries
    links = {link["href"] for page in pages for link in page.get("links", [])}
    assert (
        "https://github.com/stakepool/stakepool/blob/main/docs/runbook.md#stakepoolvalidatorslashed"
        in links
    )

    # The warning reaches the chat, for the other sidecar only.
    posts = _wait(lambda: sink.bodies("/slack"), "the Slack post")
    text = json.dumps(posts)
    assert "StakepoolBeaconDataStale fired on sp-2:9464" in text
    assert "sp-1:9464" not in text
    assert not any("BeaconDataStale" in json.dumps(page) for page in sink.bodies("/pagerduty"))
