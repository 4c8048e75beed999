"""What a worker serves, built with the clients it gets at construction: the OpenAI client
(its own retries off: Temporal retries activities), the tool registry, the run's steps on each
backend, the pacer, and every other activity of the project."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx2 as httpx
from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from openai._constants import DEFAULT_CONNECTION_LIMITS
from temporalio.activity import _Definition
from temporalio.client import Client

from activities.cleanup.candidates import CleanupCandidates
from activities.cleanup.deletion import CleanupDeletion
from activities.pacing import TokenPacer
from activities.run.assistants import AssistantsBackend
from activities.run.downloads import GeneratedFiles
from activities.run.responses import ResponsesBackend
from activities.run.steps import DefaultBackend, RunSteps
from activities.thread.previous import PreviousExecutions
from activities.tools import ToolActivities, ToolRegistry, load_tools
from activities.vector_stores.ingest import VectorStoreActivities
from activities.vector_stores.readiness import VectorStoreReadiness
from workers.settings import Settings, SettingsError
from workers.telemetry import (
    OPENAI_TIMEOUT,
    Tracing,
    openai_connection_limits,
    temporal_runtime,
)
from workflows.run.steps import CREATE_THREAD
from workflows.run.workflow import AssistantRun


def project_activities(
    settings: Settings, task_queue: str, client: Client, openai: AsyncOpenAI | None = None
) -> list[Callable[..., Any]]:
    """Every activity a worker on `task_queue` serves: the API backend's (on the project's
    queue, through `openai` or a client of its own) and the tools from TOOLS_MODULES declared
    on `task_queue`."""
    registry = project_tools(settings)
    tools = ToolActivities(registry, settings.tool_output_max_chars)
    served = tools.activities(task_queue, settings.temporal_task_queue)
    if task_queue != settings.temporal_task_queue:
        return served
    openai = openai or openai_client(settings)
    steps = run_steps(settings, client, openai, registry)
    stores = VectorStoreActivities(openai)
    readiness = VectorStoreReadiness(openai)
    candidates = CleanupCandidates(openai, client)
    deletion = CleanupDeletion(openai, client, steps)
    previous = PreviousExecutions(client, steps)
    generated = GeneratedFiles(openai)
    return [
        *served,
        steps.ensure_assistant,
        steps.create_thread,
        steps.start_run,
        steps.wait_for_run,
        steps.submit_tool_outputs,
        steps.cancel_run,
        steps.delete_thread,
        generated.download_file,
        readiness.wait_for_vector_stores,
        previous.find_previous,
        stores.check_files,
        stores.upload_files,
        stores.ensure_vector_store,
        stores.add_new_files,
        stores.wait_for_files,
        stores.remove_files,
        stores.file_counts,
        candidates.find_candidates,
        deletion.delete,
    ]


def token_pacer(settings: Settings, client: Client) -> TokenPacer | None:
    """Pacing by MODEL_TOKENS_PER_MINUTE, when it names a model."""
    budgets = settings.model_token_budgets
    if not budgets:
        return None
    window = settings.model_tokens_window_seconds
    meter = temporal_runtime(settings.metrics_port).metric_meter
    return TokenPacer(client, budgets, window, settings.temporal_task_queue, meter)


def openai_api_key(settings: Settings) -> str:
    """The key the worker's client uses; a `SettingsError` when the OpenAI settings are unusable."""
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise SettingsError(
            "OPENAI_API_KEY: not set (use 'durable-assistants dev' for the local emulator)"
        )
    return settings.openai_api_key.get_secret_value()


def openai_client(settings: Settings, tracing: Tracing | None = None) -> AsyncOpenAI:
    """The worker's one client. Its own retries are off: Temporal retries activities. It holds
    up to OPENAI_MAX_CONNECTIONS connections (a run it follows holds one while streaming)."""
    connections = settings.openai_max_connections
    http_client: httpx.AsyncClient | None = None
    if tracing:
        http_client = tracing.http_client(connections)
    elif connections != DEFAULT_CONNECTION_LIMITS.max_connections:
        limits = openai_connection_limits(connections)
        http_client = DefaultAsyncHttpxClient(limits=limits, timeout=OPENAI_TIMEOUT)
    return AsyncOpenAI(
        api_key=openai_api_key(settings),
        base_url=settings.openai_base_url,
        organization=settings.openai_org_id,
        project=settings.openai_project_id,
        max_retries=0,
        http_client=http_client,
    )


def project_tools(settings: Settings) -> ToolRegistry:
    try:
        return load_tools(settings.tool_modules)
    except ImportError as err:
        raise SettingsError(str(err)) from None


def run_steps(
    settings: Settings, client: Client, openai: AsyncOpenAI, registry: ToolRegistry
) -> RunSteps:
    return RunSteps(
        AssistantsBackend(openai, registry),
        ResponsesBackend(openai, registry),
        settings.model_prices(),
        token_pacer(settings, client),
    )


def local_steps(
    settings: Settings,
    client: Client,
    workflows: Sequence[type],
    served: Sequence[Callable[..., Any]],
) -> list[Callable[..., Any]]:
    """The local activities of `workflows`, which a worker running them must serve itself:
    which backend a run without one takes, and the Assistants API thread a run creates
    (a worker running `AssistantRun` without the project's activities gets its own OpenAI
    client for it)."""
    local: list[Callable[..., Any]] = [DefaultBackend(settings.openai_backend).default_backend]
    runs = any(issubclass(w, AssistantRun) for w in workflows)
    if runs and CREATE_THREAD.name not in {activity_name(a) for a in served}:
        openai = openai_client(settings)
        local.append(run_steps(settings, client, openai, project_tools(settings)).create_thread)
    return local


def activity_name(function: Callable[..., Any]) -> str | None:
    definition = _Definition.from_callable(function)
    return definition.name if definition else None
