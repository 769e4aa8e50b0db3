"""The Helm chart, rendered by the real Helm engine: lint, Kubernetes schemas, and what it deploys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from stakepool.config import Settings
from tests.unit.deploy.chartkit import (
    CHART,
    KUBE_VERSIONS,
    NAMESPACE,
    REPO,
    VALUES_FILES,
    kinds,
    notes,
    one,
    render,
    render_file,
    values_of,
)
from tests.unit.deploy.podview import (
    as_the_pod_sees_it,
    assert_pod_security_restricted,
    config_data,
    pod_container,
    pod_env,
    pod_mounts,
    pod_spec,
    pod_volume,
)

FILES = pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda p: p.name)
CRD_GROUPS = ("monitoring.coreos.com/",)
STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)


def test_the_ci_values_files_are_there() -> None:
    names = {p.name for p in VALUES_FILES}
    assert {"default-values.yaml", "monitoring-values.yaml", "secured-values.yaml"} <= names


# --- lint and schemas -----------------------------------------------------------------------------


@FILES
def test_helm_lint_strict_is_clean(values_file: Path) -> None:
    report = helm_python.lint(
        CHART, values_of(values_file), strict=True, namespace=NAMESPACE, kube_version="v1.25.0"
    )
    assert report["total_charts_linted"] == 1
    assert report["messages"] == [], report["messages"]
    assert report["errors"] == []


@FILES
@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_every_core_object_is_valid_kubernetes(values_file: Path, kube: str) -> None:
    objects = render_file(values_file)
    core = [o for o in objects if not o["apiVersion"].startswith(CRD_GROUPS)]
    assert core
    for obj in core:
        # strict: an unknown or misplaced field is an error, not silently dropped by the API server
        kubernetes_validate.validate(obj, kube, strict=True)
        assert obj["metadata"]["namespace"] == NAMESPACE or obj["kind"] == "ConfigMap"


def test_kubernetes_validate_catches_a_broken_object() -> None:
    """The validation above can fail: a misspelt field in the rendered Deployment is rejected."""
    deployment = one(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"config": {"mqtt": {"password": "x"}}}, "/config/mqtt"),
        ({"config": {"http": {"token": "x"}}}, "/config"),
        ({"config": {"pool": {"fee_bps": 1.5}}}, "/config/pool/fee_bps"),
        ({"config": {"pool": {"fee_bp": 100}}}, "/config/pool"),
        ({"config": {"pool": {"validators": [1, "not-a-validator"]}}}, "/config/pool/validators/1"),
        ({"config": {"log": {"level": "verbose"}}}, "/config/log/level"),
        ({"secrets": {"mqtt_pasword": "x"}}, "''"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"replica_count": 2}, "''"),
        ({"containerPort": 70000}, "/containerPort"),
    ],
)
def test_the_schema_rejects_bad_values_naming_the_key(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as failure:
        render(values)
    assert f"at {where}" in str(failure.value) or f"at '{where}'" in str(failure.value)


NOT_CHARTED = {"validator_client"}
"""``[[validator_client]]`` is not under ``config``: the chart renders it from ``validatorClients``,
whose tokens come from Secrets it mounts (``test_helm_validator_clients``)."""


def test_the_schema_knows_every_config_key_of_the_daemon() -> None:
    """config.* in values.schema.json lists the daemon's settings, minus the chart-owned [http]
    section and the secrets (which only come from the Secret)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    chart_sections = schema["properties"]["config"]["properties"]
    daemon: dict[str, set[str]] = {}
    for section, info in Settings.model_fields.items():
        if section in NOT_CHARTED:
            continue
        model: Any = info.annotation
        keys = {
            key
            for key, field in model.model_fields.items()
            if field.annotation is not SecretStr
            and SecretStr not in getattr(field.annotation, "__args__", ())
        }
        if section != "http":
            daemon[section] = keys
    charted = {section: set(body["properties"]) for section, body in chart_sections.items()}
    assert charted == daemon, "update config in deploy/helm/stakepool/values.schema.json"


# --- what gets deployed ---------------------------------------------------------------------------


def test_defaults_deploy_the_daemon_and_nothing_optional() -> None:
    objects = render()
    assert kinds(objects) == [
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",
        "Service",
        "ServiceAccount",
    ]


def test_everything_optional_is_there_when_asked_for() -> None:
    objects = render_file(CHART / "ci" / "monitoring-values.yaml") + render_file(
        CHART / "ci" / "secured-values.yaml"
    )
    assert {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Secret"} <= set(kinds(objects))


@FILES
def test_the_pod_meets_pod_security_restricted(values_file: Path) -> None:
    """The checks of the Pod Security Standards' "restricted" profile (and so "baseline")."""
    assert_pod_security_restricted(pod_spec(render_file(values_file)))


def test_probes_check_healthz_and_readyz_on_the_daemons_port() -> None:
    objects = render({"containerPort": 9500, "service": {"port": 80}})
    container = pod_container(objects)
    assert container["ports"] == [{"name": "http", "containerPort": 9500, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    config = config_data(objects)["config.toml"]
    assert '[http]\nhost = "0.0.0.0"\nport = 9500\n' in config


def test_the_container_runs_the_daemon_with_the_rendered_config() -> None:
    objects = render()
    container = pod_container(objects)
    assert [*container["command"], *container["args"]] == [
        "stakepool",
        "run",
        "--config",
        "/etc/stakepool/config.toml",
    ]
    assert container["image"] == "ghcr.io/stakepool/stakepool:0.1.0"  # the appVersion
    assert pod_mounts(objects)["config"] == {
        "name": "config",
        "mountPath": "/etc/stakepool",
        "readOnly": True,
    }
    assert pod_volume(objects, "config")["configMap"]["name"] == "sp-stakepool"
    digest = "sha256:" + "ab" * 32
    pinned = pod_container(render({"image": {"digest": digest, "tag": "9.9"}}))
    assert pinned["image"] == f"ghcr.io/stakepool/stakepool@{digest}"


def test_one_writer_of_the_ledger_on_a_kept_volume() -> None:
    objects = render()
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_env(objects)["STATE_DIRECTORY"] == "/var/lib/stakepool"
    assert pod_mounts(objects)["state"]["mountPath"] == "/var/lib/stakepool"
    claim = one(objects, "PersistentVolumeClaim")
    assert pod_volume(objects, "state")["persistentVolumeClaim"] == {
        "claimName": claim["metadata"]["name"]
    }
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]
    static = one(render({"persistence": {"storageClass": "-"}}), "PersistentVolumeClaim")
    assert static["spec"]["storageClassName"] == ""


def test_an_existing_claim_is_used_and_none_is_created() -> None:
    objects = render_file(CHART / "ci" / "existing-objects-values.yaml")
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert pod_volume(objects, "state")["persistentVolumeClaim"] == {
        "claimName": "stakepool-ledger"
    }
    assert one(objects, "Deployment")["metadata"]["name"] == "ledger"
    assert pod_spec(objects)["serviceAccountName"] == "staking"
    assert "ServiceAccount" not in kinds(objects)
    assert pod_env(objects)["STAKEPOOL_LEDGER__DATABASE"] == {
        "secretKeyRef": {"name": "stakepool-postgres", "key": "url"}
    }


def test_without_persistence_the_ledger_is_ephemeral_and_notes_say_so() -> None:
    values = {"persistence": {"enabled": False}}
    objects = render(values)
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert pod_volume(objects, "state") == {"name": "state", "emptyDir": {}}
    assert "ledger lives in an emptyDir" in notes(values)
    assert "emptyDir" not in notes()


# --- configuration and secrets as the daemon sees them ------------------------------------------


@pytest.mark.parametrize(
    "values_file",
    [p for p in VALUES_FILES if p.name != "existing-objects-values.yaml"],
    ids=lambda p: p.name,
)
def test_every_values_file_gives_a_config_the_daemon_accepts(
    values_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = as_the_pod_sees_it(render_file(values_file), tmp_path, monkeypatch)
    assert settings.http.host == "0.0.0.0"
    assert settings.http.port == 9464
    charted = values_of(values_file).get("config", {}).get("ledger", {}).get("database")
    sqlite = str(tmp_path / "var/lib/stakepool/ledger.sqlite")
    assert settings.ledger.resolved_database() == (charted or sqlite)


def test_values_reach_the_daemon_typed_and_secrets_only_through_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render_file(CHART / "ci" / "secured-values.yaml")
    config_text = config_data(objects)["config.toml"]
    assert "s3cret" not in config_text
    assert "quotes" not in config_text
    settings = as_the_pod_sees_it(objects, tmp_path, monkeypatch)
    assert settings.beacon.urls == ["http://beacon.ethereum.svc:5052"]
    assert settings.beacon.timeout_seconds == 2.5
    assert settings.beacon.use_event_stream is False
    assert settings.pool.id == "beta"
    assert settings.pool.fee_bps == 1000  # an int in values stays an int in TOML (never 1000.0)
    assert settings.pool.fee_mode == "per_epoch_positive"
    assert settings.pool.operator == "ops"
    refs = [(r.key, r.label) for r in settings.pool.all_validators()]
    assert refs == [
        ("7", None),
        ("8", "vc-1"),
        (
            "0xa99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c",
            "vc-2",
        ),
        ("1042", "vc-1"),
        ("1043", "vc-1"),
    ]
    assert settings.execution.url == "http://geth.ethereum.svc:8545"
    assert settings.mqtt.url == "mqtts://broker.iot.svc:8883"
    assert settings.mqtt.username == "stakepool"
    assert settings.mqtt.topic_prefix == "pools"
    assert settings.metrics.per_validator_limit == 16
    assert (settings.log.level, settings.log.format) == ("debug", "json")
    assert settings.http.token is not None
    assert settings.http.token.get_secret_value() == 'token with "quotes" and spaces'
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "s3cret"


def test_strings_that_need_escaping_survive_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = 'ops "team" \\ <one> & ünïcode'
    objects = render({"config": {"pool": {"operator": operator}}})
    assert as_the_pod_sees_it(objects, tmp_path, monkeypatch).pool.operator == operator


def test_the_secret_is_mounted_as_credentials_and_restarts_the_pod_on_change() -> None:
    objects = render({"secrets": {"http_token": "a"}})
    secret = one(objects, "Secret")
    assert secret["data"] == {"http_token": base64.b64encode(b"a").decode()}
    assert pod_env(objects)["CREDENTIALS_DIRECTORY"] == "/run/credentials/stakepool"
    assert pod_mounts(objects)["credentials"] == {
        "name": "credentials",
        "mountPath": "/run/credentials/stakepool",
        "readOnly": True,
    }
    volume = pod_volume(objects, "credentials")["secret"]
    assert volume["secretName"] == secret["metadata"]["name"]
    assert volume["defaultMode"] == 0o440  # group-readable: the pod's fsGroup, never root
    assert pod_spec(objects)["securityContext"]["fsGroup"] == 10001

    def checksums(values: dict[str, Any]) -> dict[str, str]:
        meta = one(render(values), "Deployment")["spec"]["template"]["metadata"]
        return {k: v for k, v in meta["annotations"].items() if k.startswith("checksum/")}

    before = checksums({"secrets": {"http_token": "a"}})
    after = checksums({"secrets": {"http_token": "b"}})
    assert before["checksum/secret"] != after["checksum/secret"]
    assert before["checksum/config"] == after["checksum/config"]
    reconfigured = checksums(
        {"secrets": {"http_token": "a"}, "config": {"log": {"level": "debug"}}}
    )
    assert reconfigured["checksum/config"] != before["checksum/config"]


def test_no_secret_means_no_credentials_directory() -> None:
    objects = render()
    assert "Secret" not in kinds(objects)
    assert "CREDENTIALS_DIRECTORY" not in pod_env(objects)
    assert "credentials" not in pod_mounts(objects)


def test_an_existing_secret_is_mounted_and_none_is_created() -> None:
    objects = render_file(CHART / "ci" / "existing-objects-values.yaml")
    assert "Secret" not in kinds(objects)
    assert pod_volume(objects, "credentials")["secret"]["secretName"] == "stakepool-credentials"
    assert pod_env(objects)["CREDENTIALS_DIRECTORY"] == "/run/credentials/stakepool"
    with pytest.raises(helm_python.HelmRenderError, match="either secrets or existingSecret"):
        render({"secrets": {"http_token": "a"}, "existingSecret": "mine"})


# --- labels, monitoring, network ------------------------------------------------------------------


@FILES
def test_every_object_carries_the_standard_and_common_labels(values_file: Path) -> None:
    values = values_of(values_file)
    objects = render(values)
    common = values.get("commonLabels", {})
    for obj in objects:
        labels = obj["metadata"]["labels"]
        for key in STANDARD_LABELS:
            assert labels.get(key), (obj["kind"], key)
        assert common.items() <= labels.items()
    deployment = one(objects, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert one(objects, "Service")["spec"]["selector"] == selector


def test_service_monitor_scrapes_the_service_as_job_stakepool() -> None:
    objects = render_file(CHART / "ci" / "monitoring-values.yaml")
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # Prometheus takes job from this Service label: "stakepool", as StakepoolDown expects.
    assert service["metadata"]["labels"][spec["jobLabel"]] == "stakepool"
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert (endpoint["path"], endpoint["interval"]) == ("/metrics", "15s")


def test_prometheus_rule_carries_additional_labels() -> None:
    rule = one(render_file(CHART / "ci" / "monitoring-values.yaml"), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["namespace"] == NAMESPACE
    elsewhere = render({"prometheusRule": {"enabled": True, "namespace": "monitoring"}})
    assert one(elsewhere, "PrometheusRule")["metadata"]["namespace"] == "monitoring"


def test_the_chart_rules_are_the_deploy_rules() -> None:
    chart_copy = CHART / "files" / "stakepool-rules.yml"
    original = REPO / "deploy" / "prometheus" / "stakepool-rules.yml"
    assert chart_copy.read_bytes() == original.read_bytes(), (
        "cp deploy/prometheus/stakepool-rules.yml deploy/helm/stakepool/files/"
    )
    rule = one(render({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(original.read_text())


def test_the_dashboard_config_map_is_the_deploy_dashboard() -> None:
    chart_copy = CHART / "files" / "stakepool.json"
    original = REPO / "deploy" / "grafana" / "stakepool.json"
    assert chart_copy.read_bytes() == original.read_bytes(), (
        "cp deploy/grafana/stakepool.json deploy/helm/stakepool/files/"
    )
    objects = render_file(CHART / "ci" / "monitoring-values.yaml")
    (dashboard,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"]["labels"]
    ]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Staking"}
    assert json.loads(dashboard["data"]["stakepool.json"]) == json.loads(original.read_text())
    relabelled = render(
        {"grafanaDashboard": {"enabled": True, "label": "dashboards", "labelValue": "stakepool"}}
    )
    (cm,) = [o for o in relabelled if o["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["dashboards"] == "stakepool"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]


def test_network_policy_admits_only_the_http_port_and_the_listed_egress() -> None:
    values = values_of(CHART / "ci" / "secured-values.yaml")
    policy = one(render(values), "NetworkPolicy")
    spec = policy["spec"]
    assert (
        spec["podSelector"]["matchLabels"]
        == one(render(values), "Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == values["networkPolicy"]["ingressFrom"]
    dns, *rules = spec["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert rules == values["networkPolicy"]["egress"]["rules"]

    ingress_only = one(render({"networkPolicy": {"enabled": True}}), "NetworkPolicy")["spec"]
    assert ingress_only["policyTypes"] == ["Ingress"]
    assert "egress" not in ingress_only
    unreachable = {"networkPolicy": {"enabled": True, "egress": {"enabled": True}}}
    assert "cannot\nreach a beacon node" in notes(unreachable)


def test_the_chart_points_at_the_project_and_its_icon_is_shipped() -> None:
    """Artifact Hub and `helm show chart` send operators to these: none is a placeholder, each
    is the project's repository, and the icon is a file of this repository."""
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    repo = "https://github.com/stakepool/stakepool"
    assert meta["home"] == repo
    assert meta["sources"] == [repo]
    raw = "https://raw.githubusercontent.com/stakepool/stakepool/main/"
    assert meta["icon"].startswith(raw)
    icon = CHART.parents[2] / meta["icon"].removeprefix(raw)
    assert icon.is_file(), icon
    assert icon.read_text().lstrip().startswith("<svg"), icon
