"""A run configured with known secrets never prints one: not in a log line (stdout or stderr), not
in ``check-config``, not in a ``/metrics`` scrape or the health endpoints, not in any MQTT message.

Every way a secret gets in is used at once: credentials in a beacon URL (a node that answers and
one that is down, so failover and "node down" lines are written), the ``beacon_auth`` and
``http_token`` systemd credentials, an execution URL with credentials whose node is down (errors
are logged), and the broker's password in the MQTT URL (a real login on mosquitto).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.mqtt.broker import PASSWORD, USERNAME, Mosquitto
from tests.integration.mqtt.kit import Subscriber, eventually
from tests.integration.mqtt.processes import Daemon
from tests.integration.processes import STAKEPOOL, clean_env, free_port, simulator

POOL = "pool-s"
BEACON_PASSWORD = "S3cretBeacon-1"
DOWN_PASSWORD = "S3cretDownNode-2"
BEACON_AUTH = "Bearer TokBeaconAuth3xyz"
EXEC_PASSWORD = "S3cretExec-4"
HTTP_TOKEN = "HttpTok5-very-secret"
SECRETS = [BEACON_PASSWORD, DOWN_PASSWORD, "TokBeaconAuth3xyz", EXEC_PASSWORD, HTTP_TOKEN, PASSWORD]


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    with simulator(tmp_path, slot_seconds="0.1") as url:
        yield url


def _config(tmp_path: Path, sim_url: str, broker: Mosquitto, http_port: int) -> Path:
    host = sim_url.removeprefix("http://")
    beacon = [
        f"http://pool:{BEACON_PASSWORD}@{host}",
        f"http://pool:{DOWN_PASSWORD}@127.0.0.1:{free_port()}",  # nobody listens there
    ]
    mqtt = f"mqtt://{USERNAME}:{quote(PASSWORD, safe='')}@127.0.0.1:{broker.auth_port}"
    path = tmp_path / "stakepool.toml"
    path.write_text(
        f"[beacon]\nurls = {json.dumps(beacon)}\ntimeout_seconds = 2\nretries = 0\n"
        f'[pool]\nid = "{POOL}"\nvalidators = [0, "1,vc-1", 2]\n'
        f"[execution]\nurl = {json.dumps(f'http://el:{EXEC_PASSWORD}@127.0.0.1:{free_port()}')}\n"
        "timeout_seconds = 1\n"
        f"[ledger]\ndatabase = {json.dumps(str(tmp_path / 'ledger.sqlite'))}\n"
        f"[http]\nport = {http_port}\n"
        '[log]\nformat = "json"\nlevel = "debug"\n'
        f"[mqtt]\nurl = {json.dumps(mqtt)}\n",
        encoding="utf-8",
    )
    return path


def _credentials(tmp_path: Path) -> Path:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "beacon_auth").write_text(BEACON_AUTH + "\n", encoding="utf-8")
    (creds / "http_token").write_text(HTTP_TOKEN + "\n", encoding="utf-8")
    return creds


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())
    except urllib.error.HTTPError as exc:  # /readyz may say 503: its body counts all the same
        return str(exc.read().decode())


def _check_config(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STAKEPOOL, "check-config", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _leaks(name: str, text: str) -> list[str]:
    return [f"{secret!r} in {name}" for secret in SECRETS if secret in text]


async def test_no_secret_in_logs_check_config_metrics_or_mqtt(
    broker: Mosquitto, sim_url: str, tmp_path: Path
) -> None:
    http_port = free_port()
    config = _config(tmp_path, sim_url, broker, http_port)
    env = clean_env(CREDENTIALS_DIRECTORY=str(_credentials(tmp_path)))
    base = f"http://127.0.0.1:{http_port}"
    scraped: dict[str, str] = {}
    async with Subscriber(broker.port, "#") as sub:
        daemon = Daemon(config, env)
        try:
            await eventually(lambda: bool(daemon.events("mqtt_connected")), "an MQTT login")
            await eventually(lambda: len(daemon.events("epoch_closed")) >= 2, "two epochs")
            # A pool block's EL reward is asked of the execution node, which is down: logged.
            await eventually(lambda: bool(daemon.events("el_reward_failed")), "an EL error")
            await eventually(lambda: bool(sub.on("/events/epoch_duties") or sub.messages), "MQTT")
            for path in ("/metrics", "/healthz", "/readyz"):
                scraped[path] = await asyncio.to_thread(_get, base + path)
        finally:
            code = await asyncio.to_thread(daemon.stop, signal.SIGTERM)
        assert code == 0, daemon.stderr
    checked = await asyncio.to_thread(_check_config, config, env)
    assert checked.returncode == 0, checked.stderr

    # The run really used every secret: it logged in to the broker, followed the node with the
    # credentials, read /metrics with both nodes named, and the check showed both URLs.
    connected = daemon.events("event_stream_connected")
    assert connected
    host = sim_url.removeprefix("http://")
    assert connected[0]["node"] == sim_url
    assert f'node="http://127.0.0.1:{host.split(":")[1]}"' in scraped["/metrics"]
    assert "stakepool_beacon" in scraped["/metrics"]
    assert sub.messages, "nothing published"
    effective = json.loads(checked.stdout)
    assert effective["beacon"]["urls"][0] == f"http://***@{host}"
    assert effective["beacon"]["auth"] == "**********"

    leaks = _leaks("stdout", "".join(daemon.raw)) + _leaks("stderr", daemon.stderr)
    leaks += _leaks("check-config", checked.stdout + checked.stderr)
    for path, body in scraped.items():
        leaks += _leaks(path, body)
    leaks += _leaks("MQTT", "\n".join(f"{m.topic} {m.payload}" for m in sub.messages))
    assert not leaks, leaks
    # The lines that printed a credentialed URL before still name each node, bare.
    sim_node, down_node = f"http://{host}", effective["beacon"]["urls"][1].replace("***@", "")
    assert daemon.events("started")[0]["nodes"] == [sim_node, down_node]
    assert {e["node"] for e in daemon.events("beacon_node_down")} == {down_node}
    assert daemon.events("el_reward_failed"), "the execution node's errors were not logged"
