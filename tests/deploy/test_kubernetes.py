"""deploy/kubernetes, checked offline: every built-in object against the Kubernetes API's schemas
in strict mode (kubernetes-validate), KEDA's objects against KEDA's CRDs (vendored in
tests/deploy/schemas), and what the manifests promise (non-root, probes, sizes, budgets)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from temporalio.envconfig import ClientConfigProfile

from tests.deploy.deploy_files import (
    CODEC_SERVER_PORT,
    DEPLOY,
    KUBERNETES,
    SCHEMAS,
    SERVE_PORT,
    WORKER_HEALTH_PORT,
    WORKER_METRICS_PORT,
    is_setting,
    kubernetes_documents,
    kubernetes_files,
    named,
    objects,
)

KUBERNETES_VERSION = "1.37"
KEDA_CRDS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}
# The Temporal scaler's trigger metadata in KEDA v2.20 (pkg/scalers/temporal_scaler.go); the
# CRD types `metadata` only as a map of strings.
TEMPORAL_TRIGGER_KEYS = frozenset(
    {
        "endpoint",
        "namespace",
        "activationTargetQueueSize",
        "targetQueueSize",
        "taskQueue",
        "queueTypes",
        "buildId",
        "workerDeploymentName",
        "workerDeploymentBuildId",
        "selectAllActive",
        "selectUnversioned",
        "minConnectTimeout",
        "unsafeSsl",
        "tlsServerName",
    }
)
DOCUMENTS = kubernetes_documents()
BUILT_IN = [(f, d) for f, d in DOCUMENTS if d["kind"] not in KEDA_CRDS]
CUSTOM = [(f, d) for f, d in DOCUMENTS if d["kind"] in KEDA_CRDS]
DEPLOYMENTS = {d["metadata"]["name"]: d for d in objects("Deployment")}


def label(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}:{item[1]['kind']}/{item[1]['metadata']['name']}"


def validate_strictly(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("item", BUILT_IN, ids=label)
def test_built_in_objects_validate_strictly(item: tuple[str, dict[str, Any]]) -> None:
    try:
        validate_strictly(item[1])
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(part) for part in err.path)
        raise AssertionError(f"{label(item)}: {path}: {err.message}") from None


def test_strict_validation_rejects_an_unknown_field() -> None:
    deployment = copy.deepcopy(next(iter(DEPLOYMENTS.values())))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_strictly(deployment)


def strict(schema: Any) -> Any:
    """A CRD's OpenAPI schema with unknown fields refused, as the API server prunes them."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / KEDA_CRDS[kind]).read_text())
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group
    assert crd["spec"]["names"]["kind"] == kind
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema: dict[str, Any] = strict(served["schema"]["openAPIV3Schema"])
    return schema


def crd_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(crd_schema(document["kind"], document["apiVersion"]))
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.mark.parametrize("item", CUSTOM, ids=label)
def test_keda_objects_validate_against_kedas_crds(item: tuple[str, dict[str, Any]]) -> None:
    assert crd_errors(item[1]) == []


def test_crd_validation_rejects_what_the_api_server_would() -> None:
    scaled = copy.deepcopy(objects("ScaledObject")[0])
    scaled["spec"]["minReplicas"] = 2  # the field is minReplicaCount
    assert crd_errors(scaled)
    scaled = copy.deepcopy(objects("ScaledObject")[0])
    scaled["spec"]["triggers"][0]["metadata"]["targetQueueSize"] = 20  # metadata are strings
    assert crd_errors(scaled)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in kubernetes_files()} - {"secret.example.yaml"}
    (secret,) = objects("Secret")
    assert all("REPLACE-ME" in value for value in secret["stringData"].values())


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def port(container: dict[str, Any], name: str) -> int:
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == name]
    return int(number)


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_pods_run_unprivileged_on_a_read_only_root(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == 10001
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert any(m["mountPath"] == "/tmp" and m["name"] in tmp for m in container["volumeMounts"])
        image = container["image"]
        assert ":" in image, image
        assert not image.endswith(":latest"), image
        requests = container["resources"]["requests"]
        assert requests.get("cpu"), name
        assert requests.get("memory"), name
        assert container["resources"]["limits"].get("memory"), name


def worker_deployments() -> list[dict[str, Any]]:
    return [d for d in DEPLOYMENTS.values() if d["metadata"]["labels"]["app"].endswith("-worker")]


def test_workers_are_probed_on_livez_and_readyz_of_their_health_port() -> None:
    assert worker_deployments()
    for deployment in worker_deployments():
        (container,) = containers(deployment)
        assert container["args"] == ["worker"]
        assert env(container)["HEALTH_PORT"]["value"] == str(WORKER_HEALTH_PORT)
        assert port(container, "health") == WORKER_HEALTH_PORT
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"


def test_workers_are_sized_from_the_benchmark() -> None:
    for deployment in worker_deployments():
        (container,) = containers(deployment)
        assert container["resources"] == {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "1Gi"},
        }
        # 1,000 runs in flight hold 676 MiB: the slots keep a pod under its limit
        assert int(env(container)["MAX_CONCURRENT_ACTIVITIES"]["value"]) <= 1000
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        config = named("ConfigMap", "durable-assistants")["data"]
        assert grace > float(config["GRACEFUL_SHUTDOWN_SECONDS"])


def test_workers_are_versioned_one_deployment_per_build() -> None:
    for deployment in worker_deployments():
        (container,) = containers(deployment)
        build = env(container)["WORKER_BUILD_ID"]["value"]
        assert env(container)["WORKER_DEPLOYMENT_NAME"]["value"] == "durable-assistants"
        assert deployment["metadata"]["name"] == f"durable-assistants-worker-{build}"
        assert deployment["spec"]["selector"]["matchLabels"]["version"] == build
        assert container["image"].endswith(f":{build}")


def test_serve_and_the_codec_server_are_probed_on_their_own_ports() -> None:
    (serve,) = containers(DEPLOYMENTS["durable-assistants-serve"])
    assert serve["args"] == ["serve", "--host", "0.0.0.0", "--port", str(SERVE_PORT)]
    assert port(serve, "http") == SERVE_PORT
    assert serve["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert serve["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    (codec,) = containers(DEPLOYMENTS["durable-assistants-codec-server"])
    assert codec["args"] == ["codec-server", "--host", "0.0.0.0", "--port", str(CODEC_SERVER_PORT)]
    assert "--insecure-no-auth" not in codec["args"]
    assert "CODEC_SERVER_TOKENS" in env(codec)
    assert port(codec, "http") == CODEC_SERVER_PORT


def test_metrics_are_scraped_where_they_are_served() -> None:
    config = named("ConfigMap", "durable-assistants")["data"]
    assert config["METRICS_PORT"] == str(WORKER_METRICS_PORT)
    for name in [d["metadata"]["name"] for d in worker_deployments()] + [
        "durable-assistants-serve"
    ]:
        template = DEPLOYMENTS[name]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(WORKER_METRICS_PORT)
        assert annotations["prometheus.io/path"] == "/metrics"
        (container,) = template["spec"]["containers"]
        assert port(container, "metrics") == WORKER_METRICS_PORT
        assert {"configMapRef": {"name": "durable-assistants"}} in container["envFrom"]


def selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return selector.items() <= labels.items()


def test_disruption_budgets_cover_the_workers_and_serve() -> None:
    covered = set()
    for budget in objects("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = {name for name, d in DEPLOYMENTS.items() if selects(selector, d)}
        assert matched, f"{budget['metadata']['name']} selects no pod"
        covered |= matched
    assert {d["metadata"]["name"] for d in worker_deployments()} <= covered
    assert "durable-assistants-serve" in covered


def test_services_reach_their_deployments_by_port_name() -> None:
    for service in objects("Service"):
        selector = service["spec"]["selector"]
        (deployment,) = [d for d in DEPLOYMENTS.values() if selects(selector, d)]
        (container,) = containers(deployment)
        for service_port in service["spec"]["ports"]:
            assert service_port["targetPort"] in {p["name"] for p in container["ports"]}


def test_environment_is_settings_from_the_configmap_and_secret() -> None:
    config = named("ConfigMap", "durable-assistants")["data"]
    assert all(is_setting(name) for name in config), set(config)
    (secret,) = objects("Secret")
    for deployment in DEPLOYMENTS.values():
        for container in containers(deployment):
            for name, item in env(container).items():
                assert is_setting(name), name
                reference = item.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["name"] == secret["metadata"]["name"]
                    assert reference["key"] in secret["stringData"]


def cloud_profile() -> dict[str, Any]:
    profile = named("ConfigMap", "durable-assistants-temporal-profile")["data"]["temporal.toml"]
    parsed: dict[str, Any] = tomllib.loads(profile)["profile"]
    return parsed


def test_the_profile_file_is_deploy_temporal_toml() -> None:
    mounted = named("ConfigMap", "durable-assistants-temporal-profile")["data"]["temporal.toml"]
    assert mounted == (DEPLOY / "temporal.toml").read_text()
    config = named("ConfigMap", "durable-assistants")["data"]
    assert config["TEMPORAL_CONFIG_FILE"] == "/etc/temporal/config/temporal.toml"
    assert config["TEMPORAL_PROFILE"] in cloud_profile()
    tls = cloud_profile()["cloud-mtls"]["tls"]
    for deployment in [*worker_deployments(), DEPLOYMENTS["durable-assistants-serve"]]:
        (container,) = containers(deployment)
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts["/etc/temporal/config"] == "temporal-profile"
        assert all(path.startswith("/etc/temporal/tls/") for path in tls.values())
        assert mounts["/etc/temporal/tls"] == "temporal-tls"


def test_the_temporal_profiles_load() -> None:
    def load(name: str) -> ClientConfigProfile:
        return ClientConfigProfile.load(
            profile=name, config_source=DEPLOY / "temporal.toml", disable_env=True
        )

    for name in ("default", "cloud"):
        assert load(name).to_client_connect_config()["target_host"].endswith(":7233")
    mtls = load("cloud-mtls")
    assert mtls.tls is not None
    assert mtls.address == load("cloud").address


def test_keda_scales_each_worker_version_on_its_backlog_with_cpu_as_fallback() -> None:
    config = named("ConfigMap", "durable-assistants")["data"]
    profile = cloud_profile()[config["TEMPORAL_PROFILE"]]
    scaled_objects = objects("ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled_objects} == {
        d["metadata"]["name"] for d in worker_deployments()
    }
    for scaled in scaled_objects:
        (container,) = containers(DEPLOYMENTS[scaled["spec"]["scaleTargetRef"]["name"]])
        triggers = {trigger["type"]: trigger for trigger in scaled["spec"]["triggers"]}
        assert set(triggers) == {"temporal", "cpu"}
        temporal = triggers["temporal"]["metadata"]
        assert set(temporal) <= TEMPORAL_TRIGGER_KEYS, set(temporal) - TEMPORAL_TRIGGER_KEYS
        assert temporal["endpoint"] == profile["address"]
        assert temporal["namespace"] == profile["namespace"]
        assert temporal["taskQueue"] == config["TEMPORAL_TASK_QUEUE"]
        assert temporal["workerDeploymentName"] == env(container)["WORKER_DEPLOYMENT_NAME"]["value"]
        assert temporal["workerDeploymentBuildId"] == env(container)["WORKER_BUILD_ID"]["value"]
        assert int(temporal["targetQueueSize"]) > 0
        auth = named("TriggerAuthentication", triggers["temporal"]["authenticationRef"]["name"])
        (secret,) = objects("Secret")
        for reference in auth["spec"]["secretTargetRef"]:
            assert reference["key"] in secret["stringData"]
        assert triggers["cpu"]["metricType"] == "Utilization"
        assert container["resources"]["requests"]["cpu"], "a CPU trigger needs a CPU request"
        assert scaled["spec"]["minReplicaCount"] >= 2


def test_no_hpa_competes_with_keda() -> None:
    """KEDA makes the HorizontalPodAutoscaler of every ScaledObject's target itself."""
    targets = {s["spec"]["scaleTargetRef"]["name"] for s in objects("ScaledObject")}
    for hpa in objects("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] not in targets
