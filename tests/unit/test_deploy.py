"""The deployment files agree with the code: every variable they set is a setting, the
image contains every package, and the Temporal profile file loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from temporalio.envconfig import ClientConfigProfile

from workers.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {name.upper() for name in Settings.model_fields}


def test_compose_and_kubernetes_set_only_real_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    worker = yaml.safe_load((DEPLOY / "kubernetes" / "worker.yaml").read_text())
    container = worker["spec"]["template"]["spec"]["containers"][0]
    names = (
        set(compose["services"]["worker"]["environment"])
        | set(compose["services"]["gateway"]["environment"])
        | {e["name"] for e in container["env"]}
    )
    assert names <= SETTINGS, names - SETTINGS
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30


def test_compose_rehearses_a_rollout_with_two_versions_of_one_deployment() -> None:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    versioned = [services["worker-v1"]["environment"], services["worker-v2"]["environment"]]
    assert {env["WORKER_DEPLOYMENT_NAME"] for env in versioned} == {"durable-assistants"}
    assert [env["WORKER_BUILD_ID"] for env in versioned] == ["v1", "v2"]
    for env in versioned:
        assert set(env) <= SETTINGS
        assert (
            env["TEMPORAL_TASK_QUEUE"] == services["worker"]["environment"]["TEMPORAL_TASK_QUEUE"]
        )
    assert "WORKER_BUILD_ID" not in services["worker"]["environment"], "the dev stack: off"


def test_the_image_contains_every_package() -> None:
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile


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


def test_the_worker_image_leaves_the_emulator_out() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = dockerfile.split("\nFROM ")
    assert stages[-1].startswith("runtime AS worker")  # the default target
    runtime = next(stage for stage in stages if stage.startswith("python:3.11-slim AS runtime"))
    assert "emulator" not in runtime
    gateway = next(stage for stage in stages if stage.startswith("python:3.11-slim AS gateway"))
    assert "emulator" not in gateway
    assert "'.[gateway]'" in dockerfile
