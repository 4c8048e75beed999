"""deploy/docker-compose.yml and the files it mounts, checked offline: against the Compose
Specification's JSON Schema (vendored in tests/deploy/schemas) and for what the stack promises."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.deploy_files import (
    CODEC_SERVER_PORT,
    DEPLOY,
    SCHEMAS,
    SERVE_PORT,
    WORKER_HEALTH_PORT,
    WORKER_METRICS_PORT,
    compose,
    environment,
    is_setting,
    search_attribute_types,
    services,
)

# A precise release: major.minor at least (postgres:16.9-bookworm, v3.5.0, 1.31.0), never a
# floating `latest` or major-only tag. Images built here carry a tag of their own.
PINNED_TAG = re.compile(r"v?\d+\.\d+(\.\d+)?(-[\w.]+)?")
PROJECT_IMAGES = ("durable-assistants:", "durable-assistants-gateway:", "durable-assistants-dev:")
WORKERS = ("worker", "worker-v1", "worker-v2", "dev-worker")


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_check_rejects_what_compose_would() -> None:
    waits = {"db": {"condition": "service_ready"}}
    assert schema_errors({"services": {"worker": {"image": "x:1.0", "depends_on": waits}}})
    assert schema_errors({"services": {"worker": {"image": "x:1.0", "restart_policy": "no"}}})


@pytest.mark.parametrize("name", sorted(services()))
def test_every_image_is_pinned(name: str) -> None:
    image = services()[name]["image"]
    tag = image.partition(":")[2]
    assert tag, f"{name}: {image} has no version"
    assert tag != "latest", f"{name}: {image} has no version"
    if image.startswith(PROJECT_IMAGES):
        assert services()[name].get("build") or any(
            other.get("image") == image and other.get("build") for other in services().values()
        ), f"{name}: nothing builds {image}"
    else:
        assert PINNED_TAG.fullmatch(tag), f"{name}: {image} is not a precise release"


def test_temporal_runs_on_postgresql_with_its_schema_set_up_first() -> None:
    s = services()
    server = environment(s["temporal"])
    assert server["DB"] == "postgres12"
    assert server["POSTGRES_SEEDS"] == "postgres"
    assert s["temporal"]["image"].startswith("temporalio/server:")
    assert "auto-setup" not in json.dumps(compose())
    schema_job = s["temporal-schema"]
    assert schema_job["image"] == "temporalio/admin-tools:" + s["temporal"]["image"].split(":")[1]
    script = " ".join(schema_job["command"])
    for database, directory in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert (
            f"--db {database} update-schema -d /etc/temporal/schema/postgresql/v12/{directory}/"
            "versioned" in script
        )
    assert "setup-schema -v 0.0" in script
    assert environment(schema_job)["SQL_PLUGIN"] == "postgres12"
    assert s["temporal"]["depends_on"]["temporal-schema"] == {
        "condition": "service_completed_successfully"
    }
    assert schema_job["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_the_setup_job_registers_every_search_attribute() -> None:
    script = " ".join(services()["temporal-setup"]["command"])
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    assert registered == search_attribute_types()
    assert "temporal operator search-attribute create --namespace default" in script
    assert "temporal operator namespace create --namespace default" in script


def test_the_dev_server_registers_every_search_attribute() -> None:
    command = services()["dev-temporal"]["command"]
    flags = [command[i + 1] for i, word in enumerate(command) if word == "--search-attribute"]
    assert dict(flag.split("=") for flag in flags) == search_attribute_types()


def test_the_ui_decodes_payloads_through_the_codec_server_on_this_host_only() -> None:
    s = services()
    ui = s["temporal-ui"]
    assert environment(ui)["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{CODEC_SERVER_PORT}"
    assert ui["ports"] == ["127.0.0.1:8233:8080"]
    codec = s["codec-server"]
    assert codec["command"][0] == "codec-server"
    assert f"127.0.0.1:{CODEC_SERVER_PORT}:{CODEC_SERVER_PORT}" in codec["ports"]
    assert environment(codec)["CODEC_SERVER_CORS_ORIGINS"] == "http://localhost:8233"


def test_every_published_port_is_bound_to_loopback() -> None:
    """The Temporal frontend, the UI and the codec server (--insecure-no-auth) ask for no
    credentials."""
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_workers_are_replicated_and_ready_only_when_polling() -> None:
    s = services()
    assert s["worker"]["deploy"]["replicas"] == 2
    for name in WORKERS:
        env = environment(s[name])
        assert env["METRICS_PORT"] == str(WORKER_METRICS_PORT), name
        assert env["HEALTH_PORT"] == str(WORKER_HEALTH_PORT), name
        test = " ".join(s[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{WORKER_HEALTH_PORT}/readyz" in test, name
        assert s[name]["stop_grace_period"] == "40s", name
        assert float(env["GRACEFUL_SHUTDOWN_SECONDS"] or 0) < 40, name


def test_serve_is_probed_on_its_own_port() -> None:
    serve = services()["serve"]
    assert serve["command"] == ["serve", "--host", "0.0.0.0", "--port", str(SERVE_PORT)]
    assert f"http://127.0.0.1:{SERVE_PORT}/readyz" in " ".join(serve["healthcheck"]["test"])
    assert environment(serve)["METRICS_PORT"] == str(WORKER_METRICS_PORT)


def test_every_dependency_waits_for_health_or_completion() -> None:
    s = services()
    for name, service in s.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for other, how in depends.items():
            condition = how["condition"]
            assert condition in {"service_healthy", "service_completed_successfully"}, name
            if condition == "service_healthy":
                assert "healthcheck" in s[other], f"{name} waits for {other}'s missing check"
            else:
                assert s[other].get("restart") == "no", f"{other} is a one-shot job"
    for name in ("worker", "serve", "temporal-ui", "worker-v1", "worker-v2"):
        assert s[name]["depends_on"]["temporal-setup"] == {
            "condition": "service_completed_successfully"
        }


def test_the_project_services_set_only_real_settings() -> None:
    for name, service in services().items():
        if service["image"].startswith(("durable-assistants", "durable-assistants-")):
            names = set(environment(service))
            assert all(is_setting(variable) for variable in names), (name, names)


def test_secrets_pass_through_from_the_shell_unset_when_absent() -> None:
    """A variable without a value reaches the container only when set where compose runs."""
    for name in ("worker", "serve", "codec-server"):
        env = environment(services()[name])
        assert env["PAYLOAD_ENCRYPTION_KEYS"] is None, name
    assert environment(services()["worker"])["OPENAI_API_KEY"] is None
    assert environment(services()["serve"])["API_TOKENS"] is None


def test_compose_rehearses_a_rollout_with_two_versions_of_one_deployment() -> None:
    s = services()
    versioned = [environment(s["worker-v1"]), environment(s["worker-v2"])]
    assert {env["WORKER_DEPLOYMENT_NAME"] for env in versioned} == {"durable-assistants"}
    assert [env["WORKER_BUILD_ID"] for env in versioned] == ["v1", "v2"]
    for env in versioned:
        assert env["TEMPORAL_TASK_QUEUE"] == environment(s["worker"])["TEMPORAL_TASK_QUEUE"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert s["worker-v1"]["image"] == s["worker"]["image"]
    assert s["worker-v2"]["image"] != s["worker"]["image"]
    assert "WORKER_BUILD_ID" not in environment(s["worker"]), "the default stack: unversioned"
    assert s["temporal-cli"]["entrypoint"] == ["temporal"]
    for name in ("worker-v1", "worker-v2", "temporal-cli"):
        assert s[name]["profiles"] == ["versioned"]


def test_the_dev_profile_keeps_the_single_container_stack() -> None:
    s = services()
    assert {name for name, service in s.items() if "dev" in service.get("profiles", [])} == {
        "dev-temporal",
        "emulator",
        "dev-worker",
    }
    assert environment(s["dev-worker"])["TEMPORAL_ADDRESS"] == "dev-temporal:7233"
    assert environment(s["dev-worker"])["OPENAI_BASE_URL"] == "http://emulator:8390/v1"
    assert s["dev-temporal"]["build"]["target"] == "dev"
    assert s["dev-worker"]["build"]["target"] == "worker"


def prometheus_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_prometheus_scrapes_every_replica_on_its_metrics_port() -> None:
    s = services()
    by_service = {
        name: (sd["port"], sd["type"])
        for job in prometheus_jobs().values()
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    for name in ("worker", "worker-v1", "worker-v2", "serve"):
        assert by_service[name] == (int(environment(s[name])["METRICS_PORT"] or 0), "A"), name
    prometheus = s["prometheus"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_prometheus_scrapes_the_temporal_server() -> None:
    endpoint = environment(services()["temporal"])["PROMETHEUS_ENDPOINT"] or ""
    targets = prometheus_jobs()["temporal-server"]["static_configs"][0]["targets"]
    assert targets == ["temporal:" + endpoint.rsplit(":", 1)[1]]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    for folder in ("datasources", "dashboards"):
        source = f"./grafana/provisioning/{folder}"
        assert mounts[source] == f"/etc/grafana/provisioning/{folder}"
        assert (DEPLOY / source).is_dir()
    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    assert [(d["uid"], d["url"]) for d in datasources] == [("prometheus", "http://prometheus:9090")]
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/durable-assistants.yml").read_text()
    )["providers"]
    assert [p["options"]["path"] for p in providers] == [mounts["./grafana/dashboards"]]
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] or ""
    assert home == mounts["./grafana/dashboards"] + "/durable-assistants.json"
    assert (DEPLOY / "grafana/dashboards/durable-assistants.json").exists()


def test_the_temporal_dynamic_config_is_mounted_where_the_server_reads_it() -> None:
    temporal = services()["temporal"]
    path = environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]
    assert f"./temporal/dynamicconfig.yaml:{path}:ro" in temporal["volumes"]
    config = yaml.safe_load((DEPLOY / "temporal" / "dynamicconfig.yaml").read_text())
    for values in config.values():
        assert all(set(value) == {"value", "constraints"} for value in values)
