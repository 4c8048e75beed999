"""The worker process: every workflow and activity of the project on its task queue, and the
model steps also on the model queue (`workers.fleet`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkerDeploymentConfig,
    WorkflowRunner,
)

from activities.heartbeats import HeartbeatPace
from activities.tools import ToolRegistry
from workers.connection import connect
from workers.detached_start import DetachedInputHeaders, DetachedStartRunner
from workers.fleet import FleetBackoff, ModelGate
from workers.health import WorkerReadiness, health_endpoints
from workers.metrics import ApiMetrics, count_open_conversations
from workers.settings import Settings
from workers.telemetry import (
    Tracing,
    temporal_runtime,
)
from workers.wiring import (
    activity_name,
    local_steps,
    openai_api_key,
    openai_client,
    project_activities,
    project_tools,
)
from workflows.cleanup.workflow import Cleanup
from workflows.ingest.workflow import VectorStoreIngest
from workflows.pacing import TokenWindow
from workflows.run.pinned import PinnedAssistantRun
from workflows.run.steps import MODEL_STEPS, model_queue
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import AssistantThread

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = [AssistantRun, AssistantThread, VectorStoreIngest, Cleanup, TokenWindow]
WORKFLOW_RUNNER: WorkflowRunner = DetachedStartRunner(UnsandboxedWorkflowRunner())
"""Workflows run outside the SDK's sandbox: it re-imports a run's workflow module and compiles
code for every activation and payload, a third of the worker's CPU at concurrency 128. It
catches non-deterministic calls in workflow code, and only our own code runs there: the replay
suite (`tests/replay`) runs every workflow in the sandbox over every recorded history instead.
Each execution is handed copies of its start's messages (`workers.detached_start`), so it does
not hold its input's raw bytes for as long as it runs."""


def build_worker(
    client: Client,
    settings: Settings,
    *,
    workflows: Sequence[type] = WORKFLOWS,
    activities: Sequence[Callable[..., Any]] | None = None,
    task_queue: str | None = None,
    tracing: Tracing | None = None,
) -> ProjectWorker:
    """The worker of `task_queue`; with the model steps among its activities, it also serves
    them on the model queue (a second `Worker` it runs and stops with itself)."""
    queue = task_queue or settings.temporal_task_queue
    openai = None
    if activities is None:
        if queue == settings.temporal_task_queue:
            openai = openai_client(settings, tracing)
        activities = project_activities(settings, queue, client, openai)
    served = list(activities)
    if workflows:
        served += local_steps(settings, client, workflows, served)
    versioning = deployment_config(settings)
    if versioning is not None:
        workflows = [PinnedAssistantRun if w is AssistantRun else w for w in workflows]
    meter = temporal_runtime(settings.metrics_port).metric_meter
    pace = HeartbeatPace(settings.heartbeat_throttle_seconds)
    options: dict[str, Any] = {
        "graceful_shutdown_timeout": timedelta(seconds=settings.graceful_shutdown_seconds),
        "max_heartbeat_throttle_interval": timedelta(seconds=settings.heartbeat_throttle_seconds),
        "max_concurrent_activities": settings.max_concurrent_activities,
        "deployment_config": versioning,
    }
    main = ProjectWorker(
        client,
        openai=openai,
        task_queue=queue,
        workflows=workflows,
        activities=served,
        no_remote_activities=not activities,  # workflows only
        interceptors=[ApiMetrics(meter), pace, DetachedInputHeaders()],
        workflow_runner=WORKFLOW_RUNNER,
        **options,
    )
    model_steps = [a for a in activities if activity_name(a) in MODEL_STEPS]
    if model_steps:
        gate = ModelGate(client, model_queue(queue), client.identity, meter)
        main.model_queue = Worker(
            client,
            task_queue=model_queue(queue),
            activities=model_steps,
            max_task_queue_activities_per_second=settings.model_requests_per_second,
            interceptors=[ApiMetrics(meter), FleetBackoff(gate), pace],
            **options,
        )
        main.gate = gate
    return main


class ProjectWorker(Worker):
    """A worker that also runs the model queue's worker (if any), started and stopped with it;
    either one failing stops both. The OpenAI client it was built with is closed when it stops
    (its connections are not left to a garbage collector running after the event loop)."""

    model_queue: Worker | None = None
    gate: ModelGate | None = None

    def __init__(self, client: Client, *, openai: AsyncOpenAI | None, **options: Any) -> None:
        super().__init__(client, **options)
        self.openai = openai

    async def run(self) -> None:
        try:
            await self._run_with_model_queue()
        finally:
            if self.openai is not None:
                await self.openai.close()

    async def _run_with_model_queue(self) -> None:
        if self.model_queue is None:
            await super().run()
            return
        main = asyncio.create_task(super().run())
        model = asyncio.create_task(self.model_queue.run())
        keeper = asyncio.create_task(self.gate.keep()) if self.gate else None
        try:
            await asyncio.wait({main, model}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if keeper is not None:
                keeper.cancel()
            await asyncio.gather(
                super().shutdown(), self.model_queue.shutdown(), return_exceptions=True
            )
        await asyncio.gather(main, model)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker Deployment versioning, when a deployment name and build id are set: a run stays
    on the version it started on (`AssistantRun` is pinned); conversations, ingests and
    cleanups move to the current version at their next workflow task (auto-upgrade)."""
    if settings.worker_deployment_name is None or settings.worker_build_id is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(settings.worker_deployment_name, settings.worker_build_id),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def announce_tools(registry: ToolRegistry, queue: str, settings: Settings) -> None:
    """Say at start-up which tools this worker executes, and loudly when none."""
    served = [
        t.spec.name
        for t in registry
        if not t.spec.external and (t.spec.task_queue or settings.temporal_task_queue) == queue
    ]
    if served:
        log.info("serving tools", task_queue=queue, tools=served)
    elif queue == settings.temporal_task_queue:
        log.warning(
            "serving no function tools", task_queue=queue, tools_modules=settings.tools_modules
        )
    else:  # no workflows either: this worker would poll and never run anything
        log.warning(
            "serving nothing: no tool of TOOLS_MODULES declares this task queue",
            task_queue=queue,
            tools_modules=settings.tools_modules,
            declared_task_queues=sorted({t.spec.task_queue for t in registry if t.spec.task_queue}),
        )


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def serve(worker: Worker, stop: asyncio.Event) -> None:
    """Run `worker` until `stop` is set, then shut down gracefully."""
    async with worker:
        log.info("worker started", task_queue=worker.task_queue)
        await stop.wait()
        log.info("worker stopping", task_queue=worker.task_queue)


@contextlib.asynccontextmanager
async def operated(settings: Settings, client: Client, worker: Worker) -> AsyncIterator[None]:
    """What operators see of a worker: health endpoints on HEALTH_PORT and, with metrics on,
    the open-conversations gauge (only from the project's queue, where conversations run)."""
    async with contextlib.AsyncExitStack() as stack:
        if settings.health_port is not None:
            ready = WorkerReadiness(client, worker)
            await stack.enter_async_context(health_endpoints(settings.health_port, ready))
            log.info("health endpoints", port=settings.health_port, paths=["/livez", "/readyz"])
        if settings.metrics_port is not None:
            log.info("metrics endpoint", port=settings.metrics_port, path="/metrics")
            if worker.task_queue == settings.temporal_task_queue:
                meter = temporal_runtime(settings.metrics_port).metric_meter
                gauge = asyncio.create_task(count_open_conversations(client, meter))
                stack.callback(gauge.cancel)
        yield


async def run_worker(settings: Settings, task_queue: str | None = None) -> None:
    """Serve the project's task queue, or only the tools of another `task_queue`."""
    queue = task_queue or settings.temporal_task_queue
    workflows = WORKFLOWS if queue == settings.temporal_task_queue else []
    registry = project_tools(settings)  # a bad TOOLS_MODULES fails before connecting
    if queue == settings.temporal_task_queue:
        openai_api_key(settings)  # so do unusable OpenAI settings
    stop = stop_on_signals()
    tracing = Tracing.from_settings(
        settings, settings.otel_service_name or "durable-assistants-worker"
    )
    client = await connect(settings, tracing)
    announce_tools(registry, queue, settings)
    worker = build_worker(client, settings, workflows=workflows, task_queue=queue, tracing=tracing)
    try:
        async with operated(settings, client, worker):
            await serve(worker, stop)
    finally:
        if tracing:
            tracing.shutdown()
