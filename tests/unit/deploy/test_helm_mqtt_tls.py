"""mqtt.tls: the broker's CA and the client certificate from an operator's Secret, mounted into
the pod, with [mqtt] ca_file, cert_file and key_file pointing at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest

from tests.unit.deploy.chartkit import CHART, kinds, render, render_file, values_of
from tests.unit.deploy.podview import (
    as_the_pod_sees_it,
    assert_pod_security_restricted,
    config_data,
    pod_mounts,
    pod_spec,
    pod_volume,
)

VALUES_FILE = CHART / "ci" / "mqtt-tls-values.yaml"
SECRET = "stakepool-mqtt-client"  # the ci file's mqtt.tls.existingSecret
TLS_DIR = "/etc/stakepool-mqtt-tls"
# What cert-manager writes into a Certificate's Secret (kubernetes.io/tls plus the CA).
CERT_MANAGER_SECRET = {
    "ca.crt": b"-----BEGIN CERTIFICATE-----\nbroker CA\n-----END CERTIFICATE-----\n",
    "tls.crt": b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n",
    "tls.key": b"-----BEGIN PRIVATE KEY-----\nclient key\n-----END PRIVATE KEY-----\n",
}


def _with_tls(**mqtt: Any) -> dict[str, Any]:
    """The ci file's values with more mqtt.tls settings (e.g. keys)."""
    values = values_of(VALUES_FILE)
    values["mqtt"]["tls"].update(mqtt)
    return values


def test_the_ci_file_exercises_mutual_tls_from_an_existing_secret() -> None:
    values = values_of(VALUES_FILE)
    assert values["mqtt"]["tls"]["existingSecret"] == SECRET
    assert values["config"]["mqtt"]["url"].startswith("mqtts://")
    assert not {"ca_file", "cert_file", "key_file"} & set(values["config"]["mqtt"])


def test_the_secret_is_mounted_read_only_with_the_credentials_mode() -> None:
    objects = render_file(VALUES_FILE)
    assert "Secret" not in kinds(objects)  # the operator's, never the chart's
    volume = pod_volume(objects, "mqtt-tls")
    assert volume["secret"] == {
        "secretName": SECRET,
        "items": [
            {"key": "ca.crt", "path": "ca.crt"},
            {"key": "tls.crt", "path": "tls.crt"},
            {"key": "tls.key", "path": "tls.key"},
        ],
        "defaultMode": 0o440,  # as the credentials: owner and the pod's fsGroup, nobody else
    }
    assert (
        volume["secret"]["defaultMode"]
        == pod_volume(render({"secrets": {"mqtt_password": "x"}}), "credentials")["secret"][
            "defaultMode"
        ]
    )
    assert pod_spec(objects)["securityContext"]["fsGroup"] == 10001
    # A whole directory, no subPath: a renewed certificate reaches the files in the pod.
    assert pod_mounts(objects)["mqtt-tls"] == {
        "name": "mqtt-tls",
        "mountPath": TLS_DIR,
        "readOnly": True,
    }
    # Not inside the ConfigMap's read-only /etc/stakepool mount.
    assert not TLS_DIR.startswith(pod_mounts(objects)["config"]["mountPath"] + "/")


def test_the_pod_with_tls_still_meets_pod_security_restricted() -> None:
    assert_pod_security_restricted(pod_spec(render_file(VALUES_FILE)))
    assert_pod_security_restricted(pod_spec(render(_with_tls(keys={"cert": "", "key": ""}))))


def test_config_toml_points_at_the_mounted_files() -> None:
    text = config_data(render_file(VALUES_FILE))["config.toml"]
    assert f'ca_file = "{TLS_DIR}/ca.crt"' in text
    assert f'cert_file = "{TLS_DIR}/tls.crt"' in text
    assert f'key_file = "{TLS_DIR}/tls.key"' in text


def test_the_daemon_loads_the_config_and_finds_the_secrets_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render_file(VALUES_FILE)
    settings = as_the_pod_sees_it(
        objects, tmp_path, monkeypatch, existing_secrets={SECRET: CERT_MANAGER_SECRET}
    )
    mount = tmp_path / TLS_DIR.lstrip("/")
    assert settings.mqtt.url == "mqtts://broker.iot.svc:8883"
    assert settings.mqtt.client_id == "stakepool-delta"
    assert settings.mqtt.ca_file == mount / "ca.crt"
    assert settings.mqtt.cert_file == mount / "tls.crt"
    assert settings.mqtt.key_file == mount / "tls.key"
    assert settings.mqtt.tls_insecure is False
    assert settings.mqtt.ca_file.read_bytes() == CERT_MANAGER_SECRET["ca.crt"]
    assert settings.mqtt.cert_file.read_bytes() == CERT_MANAGER_SECRET["tls.crt"]
    assert settings.mqtt.key_file.read_bytes() == CERT_MANAGER_SECRET["tls.key"]


def test_paths_the_user_set_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = _with_tls()
    values["config"]["mqtt"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"
    values["config"]["mqtt"]["tls_insecure"] = True
    objects = render(values)
    settings = as_the_pod_sees_it(
        objects, tmp_path, monkeypatch, existing_secrets={SECRET: CERT_MANAGER_SECRET}
    )
    assert settings.mqtt.ca_file == Path("/etc/ssl/certs/ca-certificates.crt")
    assert settings.mqtt.cert_file == tmp_path / TLS_DIR.lstrip("/") / "tls.crt"
    assert settings.mqtt.tls_insecure is True
    assert config_data(objects)["config.toml"].count("ca_file") == 1


def test_a_ca_only_secret_verifies_the_broker_without_a_client_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private CA in a Secret of its own (key ca.pem), for a broker that does not ask for a
    client certificate: only that file is mounted and configured."""
    objects = render(_with_tls(keys={"ca": "ca.pem", "cert": "", "key": ""}))
    assert pod_volume(objects, "mqtt-tls")["secret"]["items"] == [
        {"key": "ca.pem", "path": "ca.crt"}
    ]
    settings = as_the_pod_sees_it(
        objects,
        tmp_path,
        monkeypatch,
        existing_secrets={SECRET: {"ca.pem": CERT_MANAGER_SECRET["ca.crt"]}},
    )
    assert settings.mqtt.ca_file == tmp_path / TLS_DIR.lstrip("/") / "ca.crt"
    assert settings.mqtt.ca_file.read_bytes() == CERT_MANAGER_SECRET["ca.crt"]
    assert (settings.mqtt.cert_file, settings.mqtt.key_file) == (None, None)


def test_without_mqtt_tls_nothing_is_mounted_or_configured() -> None:
    for objects in (render(), render_file(CHART / "ci" / "secured-values.yaml")):
        assert "mqtt-tls" not in pod_mounts(objects)
        assert all(v["name"] != "mqtt-tls" for v in pod_spec(objects)["volumes"])
        text = config_data(objects)["config.toml"]
        assert "ca_file" not in text
        assert "cert_file" not in text
    # keys alone (no Secret) change nothing either
    alone = render({"mqtt": {"tls": {"keys": {"ca": "bundle.pem"}}}})
    assert "mqtt-tls" not in pod_mounts(alone)


def test_tls_changes_the_config_checksum_so_the_pod_restarts() -> None:
    def checksum(values: dict[str, Any]) -> str:
        objects = render(values)
        (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
        annotation: str = deployment["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return annotation

    plain = values_of(VALUES_FILE)
    plain["mqtt"]["tls"]["existingSecret"] = ""
    assert checksum(values_of(VALUES_FILE)) != checksum(plain)


@pytest.mark.parametrize(
    ("mqtt_tls", "url", "error"),
    [
        ({"keys": {"key": ""}}, None, "cert and key go together"),
        ({"keys": {"cert": ""}}, None, "cert and key go together"),
        ({"keys": {"ca": "", "cert": "", "key": ""}}, None, "mqtt.tls.keys names no file"),
        ({}, "mqtt://broker.iot.svc:1883", "is not mqtts://"),
    ],
)
def test_inconsistent_tls_values_fail_the_render_with_a_clear_message(
    mqtt_tls: dict[str, Any], url: str | None, error: str
) -> None:
    values = _with_tls(**mqtt_tls)
    if url is not None:
        values["config"]["mqtt"]["url"] = url
    with pytest.raises(helm_python.HelmRenderError, match=error):
        render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"mqtt": {"tls": {"secretName": "x"}}}, "/mqtt/tls"),
        ({"mqtt": {"tls": {"keys": {"crt": "tls.crt"}}}}, "/mqtt/tls/keys"),
        ({"mqtt": {"tls": {"keys": {"ca": "../ca.crt"}}}}, "/mqtt/tls/keys/ca"),
        ({"mqtt": {"tls": {"existingSecret": 7}}}, "/mqtt/tls/existingSecret"),
        ({"mqtt": {"ca_file": "/x"}}, "/mqtt"),
    ],
)
def test_the_schema_rejects_bad_tls_values_naming_the_key(
    values: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as failure:
        render(values)
    assert f"at {where}" in str(failure.value) or f"at '{where}'" in str(failure.value)
