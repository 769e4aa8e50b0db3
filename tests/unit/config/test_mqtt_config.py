"""The [mqtt] section: TLS options, client id, keepalive, outbox bound, topic prefix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STAKEPOOL_") or key in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(key)


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "stakepool.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_defaults() -> None:
    mqtt = load_settings().mqtt
    assert mqtt.url is None
    assert mqtt.topic_prefix == "stakepool"
    assert mqtt.keepalive_seconds == 30
    assert mqtt.outbox_max_rows == 100_000
    # A clean stop drains for a few seconds, well inside systemd's and Kubernetes' 30 s.
    assert mqtt.stop_grace_seconds == 5.0
    assert mqtt.tls_insecure is False
    assert mqtt.client_id is None


def test_tls_and_password_from_a_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("hunter2\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tmp_path / "stakepool.toml"
    path.write_text(
        '[mqtt]\nurl = "mqtts://broker.lan"\nusername = "op"\nca_file = "/etc/ca.pem"\n'
        'cert_file = "/etc/c.pem"\nkey_file = "/etc/c.key"\nclient_id = "a-1"\n'
        "keepalive_seconds = 10\noutbox_max_rows = 500\n",
        encoding="utf-8",
    )
    mqtt = load_settings(path).mqtt
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "hunter2"
    assert mqtt.ca_file == Path("/etc/ca.pem")
    assert (mqtt.client_id, mqtt.keepalive_seconds, mqtt.outbox_max_rows) == ("a-1", 10, 500)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('cert_file = "/etc/c.pem"\n', "mqtt"),
        ('topic_prefix = "/stakepool"\n', "mqtt.topic_prefix"),
        ('topic_prefix = "stake/+"\n', "mqtt.topic_prefix"),
        ("keepalive_seconds = 1\n", "mqtt.keepalive_seconds"),
        ("outbox_max_rows = 0\n", "mqtt.outbox_max_rows"),
        ("stop_grace_seconds = -1\n", "mqtt.stop_grace_seconds"),
        ("stop_grace_seconds = 301\n", "mqtt.stop_grace_seconds"),
        ('url = "http://broker.lan"\n', "mqtt.url"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _load(tmp_path, "[mqtt]\n" + text)
