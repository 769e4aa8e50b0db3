"""The chart on a PostgreSQL ledger: several pods, one fenced writer, the others standbys
(docs/several-hosts.md). On SQLite it keeps one pod on a kept volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest

from tests.unit.deploy.chartkit import CHART, kinds, notes, one, render, render_file, values_of
from tests.unit.deploy.podview import (
    as_the_pod_sees_it,
    pod_env,
    pod_mounts,
    pod_spec,
    pod_volume,
)

SEVERAL = CHART / "ci" / "several-hosts-values.yaml"
URL = "postgresql://stakepool@postgres.db.svc:5432/stakepool"


def on_postgresql(replicas: int, **more: Any) -> dict[str, Any]:
    return {
        "replicaCount": replicas,
        "config": {"pool": {"validators": ["0"]}, "ledger": {"database": URL}},
        "secrets": {"ledger_password": "pg s3cret"},
        **more,
    }


def test_two_replicas_on_postgresql_render_two_pods_a_budget_and_no_claim() -> None:
    objects = render(on_postgresql(2))
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert pod_volume(objects, "state") == {"name": "state", "emptyDir": {}}
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["metadata"]["namespace"] == "staking"


def test_each_pod_is_its_own_instance_with_the_password_from_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render(on_postgresql(2))
    env = pod_env(objects)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["STAKEPOOL_LEDGER__INSTANCE"] == "$(POD_NAME)"
    secret = one(objects, "Secret")
    assert pod_volume(objects, "credentials")["secret"]["secretName"] == secret["metadata"]["name"]
    assert pod_mounts(objects)["credentials"]["mountPath"] == env["CREDENTIALS_DIRECTORY"]
    settings = as_the_pod_sees_it(objects, tmp_path, monkeypatch, pod_name="sp-stakepool-7c9-abcde")
    assert settings.ledger.is_postgresql
    assert settings.ledger.resolved_database() == URL
    assert settings.ledger.instance == "sp-stakepool-7c9-abcde"
    assert settings.ledger.database_password() == "pg s3cret"
    # The password reaches the daemon only as a credential file, never in the ConfigMap.
    config = one([o for o in objects if o["kind"] == "ConfigMap"], "ConfigMap")
    assert "s3cret" not in str(config["data"])


def test_a_charted_instance_name_is_kept() -> None:
    values = on_postgresql(1)
    values["config"]["ledger"]["instance"] = "k8s-a"
    env = pod_env(render(values))
    assert "STAKEPOOL_LEDGER__INSTANCE" not in env


def test_each_pod_has_its_own_mqtt_client_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every instance connects to the broker; one shared client id and each would kick the
    other off."""
    settings = as_the_pod_sees_it(
        render_file(SEVERAL), tmp_path, monkeypatch, pod_name="sp-stakepool-7c9-abcde"
    )
    assert settings.mqtt.client_id == "stakepool-pool-sp-stakepool-7c9-abcde"
    values = values_of(SEVERAL)
    values["config"]["mqtt"]["client_id"] = "mine"
    assert "STAKEPOOL_MQTT__CLIENT_ID" not in pod_env(render(values))


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": 2},
        {"replicaCount": 2, "config": {"ledger": {"database": "/var/lib/stakepool/l.sqlite"}}},
        # A URL from a Secret cannot be read at render time: the chart cannot tell it is one.
        {
            "replicaCount": 2,
            "extraEnv": [
                {
                    "name": "STAKEPOOL_LEDGER__DATABASE",
                    "valueFrom": {"secretKeyRef": {"name": "pg", "key": "url"}},
                }
            ],
        },
    ],
    ids=["default-sqlite", "sqlite-path", "url-from-a-secret"],
)
def test_several_replicas_on_sqlite_are_refused_naming_the_fix(values: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmRenderError) as failure:
        render(values)
    message = str(failure.value)
    assert "replicaCount 2 needs a PostgreSQL ledger" in message
    assert "config.ledger.database" in message
    assert "secrets.ledger_password" in message


def test_a_literal_url_in_extra_env_counts_as_postgresql() -> None:
    values = {
        "replicaCount": 2,
        "extraEnv": [{"name": "STAKEPOOL_LEDGER__DATABASE", "value": URL}],
    }
    objects = render(values)
    assert one(objects, "Deployment")["spec"]["replicas"] == 2
    assert "PersistentVolumeClaim" not in kinds(objects)


def test_upgrades_start_a_standby_before_stopping_a_pod() -> None:
    """A fenced writer allows an overlap: the new pod starts as a standby, the old one's clean
    stop hands the writer's role on. SQLite keeps Recreate (never two writers of one file)."""
    postgresql = one(render(on_postgresql(1)), "Deployment")["spec"]["strategy"]
    assert postgresql == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert one(render(), "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_one_pod_on_postgresql_has_no_claim_and_no_budget() -> None:
    objects = render(on_postgresql(1))
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert "PodDisruptionBudget" not in kinds(objects)  # it would block every node drain
    assert "affinity" not in pod_spec(objects)
    forced = render(on_postgresql(1, podDisruptionBudget={"enabled": True}))
    assert one(forced, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_the_budget_is_configurable_and_refuses_both_bounds() -> None:
    objects = render(
        on_postgresql(3, podDisruptionBudget={"minAvailable": 2, "maxUnavailable": None})
    )
    assert one(objects, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 2,
        "selector": one(objects, "Deployment")["spec"]["selector"],
    }
    assert "PodDisruptionBudget" not in kinds(
        render(on_postgresql(2, podDisruptionBudget={"enabled": False}))
    )
    with pytest.raises(helm_python.HelmRenderError, match="minAvailable or maxUnavailable"):
        render(on_postgresql(2, podDisruptionBudget={"minAvailable": 1}))


def test_replicas_prefer_different_nodes() -> None:
    objects = render(on_postgresql(2))
    selector = one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    (term,) = pod_spec(objects)["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"] == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": selector},
    }
    required = pod_spec(render(on_postgresql(2, podAntiAffinity="required")))["affinity"]
    assert (
        required["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0][
            "topologyKey"
        ]
        == "kubernetes.io/hostname"
    )
    own = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
                ]
            }
        }
    }
    assert pod_spec(render(on_postgresql(2, affinity=own)))["affinity"] == own


def test_a_standby_is_ready_so_the_readiness_probe_stays_readyz() -> None:
    """/readyz answers 200 for a standby too (it serves reads; "role" says which it is): the
    Service keeps every instance, and a rollout waits for the new pod to follow the chain."""
    objects = render(on_postgresql(2))
    probe = pod_spec(objects)["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"


def test_the_several_hosts_example_and_notes() -> None:
    objects = render_file(SEVERAL)
    assert one(objects, "Deployment")["spec"]["replicas"] == 3
    assert kinds(objects).count("PodDisruptionBudget") == 1
    assert "PersistentVolumeClaim" not in kinds(objects)
    text = notes(values_of(SEVERAL))
    assert '"role": "writer" or "standby"' in text
    assert "emptyDir" not in text


def test_the_password_from_an_existing_secret_reaches_every_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = on_postgresql(2, existingSecret="stakepool-credentials")
    del values["secrets"]
    objects = render(values)
    assert "Secret" not in kinds(objects)
    assert pod_volume(objects, "credentials")["secret"]["secretName"] == "stakepool-credentials"
    settings = as_the_pod_sees_it(
        objects,
        tmp_path,
        monkeypatch,
        existing_secrets={"stakepool-credentials": {"ledger_password": b"from the operator"}},
        pod_name="sp-stakepool-7c9-fghij",
    )
    assert settings.ledger.database_password() == "from the operator"
    assert settings.ledger.instance == "sp-stakepool-7c9-fghij"


def test_read_replicas_reach_every_pod_and_the_schema_wants_postgresql_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render_file(SEVERAL)
    settings = as_the_pod_sees_it(objects, tmp_path, monkeypatch, pod_name="sp-stakepool-1")
    assert settings.ledger.read_urls == [
        "postgresql://stakepool@postgres-replica.db.svc:5432/stakepool"
    ]
    values = on_postgresql(2)
    values["config"]["ledger"]["read_urls"] = ["/var/lib/replica.sqlite"]
    with pytest.raises(helm_python.HelmValuesError, match="read_urls"):
        render(values)


def test_read_replicas_of_a_sqlite_ledger_are_refused() -> None:
    values = {"config": {"ledger": {"read_urls": ["postgresql://replica.db.svc/stakepool"]}}}
    with pytest.raises(helm_python.HelmRenderError, match="read_urls needs a PostgreSQL ledger"):
        render(values)
