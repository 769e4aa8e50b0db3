"""The Helm chart renders ``[[validator_client]]``: values → config.toml, each client's Keymanager
API token from a Secret the operator manages, mounted as a file the daemon reads at every poll.

Rendered by the real Helm engine (``chartkit``: ``helm template`` through helm-python-sdk) and
loaded as the pod's daemon would load it (``podview``): the token read through the mounted file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest

from tests.unit.deploy.chartkit import one, render
from tests.unit.deploy.podview import (
    as_the_pod_sees_it,
    assert_pod_security_restricted,
    config_data,
    pod_mounts,
    pod_spec,
    pod_volume,
)

CLIENTS: list[dict[str, Any]] = [
    {
        "name": "vc-1",
        "url": "http://lighthouse-vc.ethereum.svc:5062",
        "tokenSecret": {"name": "lighthouse-vc-api-token", "key": "api-token.txt"},
    },
    {
        "name": "vc-2",
        "url": "https://teku-vc.ethereum.svc:5052/",
        "tokenSecret": {"name": "teku-keymanager", "key": "token"},
        "timeoutSeconds": 2.5,
    },
]
TOKENS = {
    "lighthouse-vc-api-token": {"api-token.txt": b"api-token-0x1234\n"},
    "teku-keymanager": {"token": b"teku-secret-token"},
}


def test_validator_clients_reach_the_daemon_with_their_tokens_from_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render({"validatorClients": CLIENTS})
    config_text = config_data(objects)["config.toml"]
    assert config_text.count("[[validator_client]]") == 2
    for secret in TOKENS.values():  # the tokens never appear in the ConfigMap
        for value in secret.values():
            assert value.decode().strip() not in config_text

    settings = as_the_pod_sees_it(objects, tmp_path, monkeypatch, existing_secrets=TOKENS)
    clients = settings.validator_client
    assert [(c.name, c.url, c.timeout_seconds) for c in clients] == [
        ("vc-1", "http://lighthouse-vc.ethereum.svc:5062", 5.0),
        ("vc-2", "https://teku-vc.ethereum.svc:5052", 2.5),
    ]
    assert [c.token_credential for c in clients] == [None, None]
    assert [c.read_token() for c in clients] == ["api-token-0x1234", "teku-secret-token"]

    # Mounted read-only, one directory per client, only the named key, group-readable.
    mounts = pod_mounts(objects)
    assert mounts["vc-token-0"] == {
        "name": "vc-token-0",
        "mountPath": "/etc/stakepool-vc/vc-1",
        "readOnly": True,
    }
    assert mounts["vc-token-1"]["mountPath"] == "/etc/stakepool-vc/vc-2"
    assert pod_volume(objects, "vc-token-1")["secret"] == {
        "secretName": "teku-keymanager",
        "defaultMode": 0o440,
        "items": [{"key": "token", "path": "token"}],
    }
    assert_pod_security_restricted(pod_spec(objects))
    assert "Secret" not in {o["kind"] for o in objects}  # the operator's Secrets, not the chart's


def test_a_changed_client_restarts_the_pod_and_none_renders_nothing() -> None:
    def config_checksum(values: dict[str, Any]) -> str:
        meta = one(render(values), "Deployment")["spec"]["template"]["metadata"]
        checksum: str = meta["annotations"]["checksum/config"]
        return checksum

    assert config_checksum({"validatorClients": CLIENTS[:1]}) != config_checksum(
        {"validatorClients": CLIENTS}
    )
    objects = render()
    assert "validator_client" not in config_data(objects)["config.toml"]
    assert not [m for m in pod_mounts(objects) if m.startswith("vc-token")]


@pytest.mark.parametrize(
    ("client", "where"),
    [
        ({"name": "vc-1", "url": "http://vc:5062"}, "/validatorClients/0"),
        (
            {"name": "vc 1", "url": "http://vc:5062", "tokenSecret": {"name": "s", "key": "k"}},
            "/validatorClients/0/name",
        ),
        (
            {"name": "vc-1", "url": "ftp://vc", "tokenSecret": {"name": "s", "key": "k"}},
            "/validatorClients/0/url",
        ),
        (
            {"name": "vc-1", "url": "http://vc:5062", "token": "inline tokens are refused"},
            "/validatorClients/0",
        ),
    ],
)
def test_the_schema_refuses_a_client_without_a_secret_or_with_a_bad_name(
    client: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as failure:
        render({"validatorClients": [client]})
    assert f"at {where}" in str(failure.value) or f"at '{where}'" in str(failure.value)
