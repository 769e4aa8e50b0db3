"""[mqtt] settings turned into connection options: ports, credentials, TLS, client id."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from stakepool.config import MqttSettings
from stakepool.publish.mqtt_broker import (
    BrokerConfigError,
    broker_options,
    is_auth_refusal,
    refusal_hint,
    tls_context,
)


def test_plain_url_defaults() -> None:
    o = broker_options(MqttSettings(url="mqtt://broker.lan"), "pool-a")
    assert (o.host, o.port, o.tls) == ("broker.lan", 1883, False)
    assert o.client_id == "stakepool-pool-a"
    assert o.keepalive == 30
    assert o.username is None
    assert o.password is None
    assert o.address == "mqtt://broker.lan:1883"


def test_tls_url_port_and_credentials_from_settings_win() -> None:
    settings = MqttSettings(
        url="mqtts://user:urlpass@broker.lan:9999",
        username="op",
        password=SecretStr("s3cret"),
        client_id="pool-a-host-1",
        keepalive_seconds=15,
    )
    o = broker_options(settings, "pool-a")
    assert (o.host, o.port, o.tls) == ("broker.lan", 9999, True)
    assert (o.username, o.password) == ("op", "s3cret")
    assert o.client_id == "pool-a-host-1"
    assert "s3cret" not in o.address
    assert "urlpass" not in o.address


def test_default_tls_port() -> None:
    assert broker_options(MqttSettings(url="mqtts://broker.lan"), "p").port == 8883


def test_credentials_in_the_url_are_used_when_settings_have_none() -> None:
    o = broker_options(MqttSettings(url="mqtt://u:p@broker.lan"), "p")
    assert (o.username, o.password) == ("u", "p")


def test_no_url_is_an_error() -> None:
    with pytest.raises(BrokerConfigError, match="url is not set"):
        broker_options(MqttSettings(), "p")


def test_tls_context_verifies_by_default() -> None:
    context = tls_context(MqttSettings(url="mqtts://broker.lan"))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_insecure_only_skips_the_hostname() -> None:
    context = tls_context(MqttSettings(url="mqtts://broker.lan", tls_insecure=True))
    assert not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED  # the chain is still checked


def test_missing_tls_files_are_a_clear_error(tmp_path: Path) -> None:
    settings = MqttSettings(url="mqtts://broker.lan", ca_file=tmp_path / "missing-ca.pem")
    with pytest.raises(BrokerConfigError, match=r"\[mqtt\] TLS files: ca_file .*missing-ca\.pem"):
        tls_context(settings)


def test_a_key_that_is_not_a_key_names_the_files(tmp_path: Path) -> None:
    bogus = tmp_path / "client.pem"
    bogus.write_text("not a certificate\n", encoding="utf-8")
    settings = MqttSettings(url="mqtts://broker.lan", cert_file=bogus, key_file=bogus)
    with pytest.raises(BrokerConfigError, match=r"cert_file .*client\.pem / key_file"):
        tls_context(settings)


def test_refusal_codes() -> None:
    # MQTT 3.1.1 return codes 4 and 5, MQTT 5 reason codes 0x86 and 0x87.
    for code in (4, 5, 0x86, 0x87):
        assert is_auth_refusal(code)
        assert "mqtt_password" in refusal_hint(code)
    assert not is_auth_refusal(3)
    assert not is_auth_refusal(None)
    assert "client_id" in refusal_hint(0x85)
