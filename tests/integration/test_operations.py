"""What operators see: a worker process's Prometheus metrics and health endpoints, the
open-conversations gauge, and a run's trace (workflow, activity and OpenAI HTTP spans)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from emulator.config import FaultRule
from tests.deploy.test_dashboard import TEMPORAL_SDK_METRICS
from tests.integration.conftest import (
    REPO_ROOT,
    WORKER_CLI,
    Assistant,
    ask,
    both_backends,
    cli_env,
    run,
)
from tests.ports import free_port
from workers.connection import connect
from workers.health import WorkerReadiness
from workers.metrics import OPEN_CONVERSATIONS, count_open_conversations
from workers.settings import Settings
from workers.telemetry import Tracing
from workers.worker import build_worker
from workflows.contracts import RunTimeouts

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05, api_max_attempts=5)
START_ROUTE = {"assistants": r"^POST /v1/threads/[^/]+/runs$", "responses": r"^POST /v1/responses$"}
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """One scrape of a Prometheus text endpoint."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if (match := _SAMPLE.match(line)) is not None:
                labels = dict(_LABEL.findall(match["labels"] or ""))
                self.samples.append((match["name"], labels, float(match["value"])))

    def families(self) -> set[str]:
        """Metric names, a histogram's under its own name (without _bucket, _sum, _count)."""
        return {re.sub(r"_(bucket|sum|count)$", "", name) for name, _, _ in self.samples}

    def value(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples carrying all of `labels`."""
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and labels.items() <= have.items()
        )


@pytest.fixture
def metrics_worker(settings: Settings) -> Iterator[tuple[int, int]]:
    """`durable-assistants worker` with METRICS_PORT and HEALTH_PORT: the two ports."""
    metrics_port, health_port = free_port(), free_port()
    env = {**cli_env(settings), "METRICS_PORT": str(metrics_port), "HEALTH_PORT": str(health_port)}
    process = subprocess.Popen(
        [WORKER_CLI, "worker"], env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL
    )
    yield metrics_port, health_port
    process.kill()
    process.wait()


async def until_ready(http: httpx.AsyncClient, port: int) -> None:
    for _ in range(300):
        try:
            if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the worker never became ready")


async def scrape(http: httpx.AsyncClient, port: int) -> Scrape:
    return Scrape((await http.get(f"http://127.0.0.1:{port}/metrics")).text)


async def scrape_once_completed(http: httpx.AsyncClient, port: int, workflow_type: str) -> Scrape:
    """The metrics once the SDK counted a `workflow_type` completed: it counts when the
    server has acknowledged the completion, which a client waiting for the result may see
    first."""
    for _ in range(100):
        seen = await scrape(http, port)
        if seen.value("temporal_workflow_completed", workflow_type=workflow_type) > 0:
            return seen
        await asyncio.sleep(0.05)
    return seen


@both_backends
async def test_a_run_with_a_tool_and_a_retried_start_shows_in_the_workers_metrics(
    backend: str,
    client: Client,
    task_queue: str,
    assistant: Assistant,
    metrics_worker: tuple[int, int],
    faults: Callable[..., None],
) -> None:
    metrics_port, health_port = metrics_worker
    faults(FaultRule(status=500, times=1, route=START_ROUTE[backend]))
    async with httpx.AsyncClient(timeout=5) as http:
        await until_ready(http, health_port)
        live = await http.get(f"http://127.0.0.1:{health_port}/livez")
        assert (live.status_code, live.json()) == (200, {"status": "alive"})
        request = ask(assistant, "What is the weather in Paris?", timeouts=QUICK)
        result = await run(client, task_queue, request)
        assert result.status == "completed"
        assert result.usage is not None
        seen = await scrape_once_completed(http, metrics_port, "AssistantRun")

    queue = {"task_queue": task_queue}
    ended = {**queue, "backend": backend, "status": "completed"}
    assert seen.value("durable_assistants_runs_total", **ended) == 1
    assert seen.value("durable_assistants_run_duration_seconds_count", **ended) == 1
    assert seen.value("durable_assistants_run_duration_seconds_sum", **ended) > 0
    tool = {**queue, "tool": "get_weather", "outcome": "ok"}
    assert seen.value("durable_assistants_tool_calls_total", **tool) == 1
    assert seen.value("durable_assistants_tool_call_duration_seconds_count", **tool) == 1
    for waiting_for in ("model", "tools", "approval"):
        waited = {**queue, "waiting_for": waiting_for, "backend": backend}
        assert seen.value("durable_assistants_run_wait_seconds_count", **waited) == 1
    model_wait = {**queue, "waiting_for": "model", "backend": backend}
    assert seen.value("durable_assistants_run_wait_seconds_sum", **model_wait) > 0
    tokens = {**queue, "model": "gpt-4o"}
    assert seen.value("durable_assistants_tokens_total", **tokens, kind="input") == (
        result.usage.prompt_tokens
    )
    assert seen.value("durable_assistants_tokens_total", **tokens, kind="output") == (
        result.usage.completion_tokens
    )
    assert result.cost_usd is not None
    cost = seen.value("durable_assistants_cost_microdollars_total", **tokens)
    assert cost == round(result.cost_usd * 1_000_000)
    start = {"operation": "run.start"}
    assert seen.value("durable_assistants_api_errors_total", **start, status_code="500") == 1
    assert seen.value("durable_assistants_api_retries_total", **start) == 1
    assert seen.value("durable_assistants_api_errors_total") == 1  # nothing else failed
    assert seen.value("temporal_workflow_completed", workflow_type="AssistantRun") == 1
    dashboards = TEMPORAL_SDK_METRICS - {
        "temporal_workflow_failed",  # present once something failed
        "temporal_activity_execution_failed",
        "temporal_request_failure",
    }
    assert dashboards <= seen.families(), "the dashboard asks for an SDK metric never exported"


async def test_a_worker_is_ready_only_while_it_polls_its_task_queue(
    client: Client, settings: Settings
) -> None:
    worker = build_worker(client, settings)
    ready = WorkerReadiness(client, worker, cache_seconds=0)
    assert await ready() == "the worker is not running"
    async with worker:
        for _ in range(100):
            if (reason := await ready()) is None:
                break
            starting = ("the worker is not running", "not yet polling task queue")
            assert reason.startswith(starting)
            await asyncio.sleep(0.1)
        assert await ready() is None
    assert await ready() == "the worker is not running"


async def test_a_worker_closes_its_openai_client_when_it_stops(
    client: Client, settings: Settings
) -> None:
    """Not left for the garbage collector after the event loop is gone (which warns that
    `AsyncClient.aclose` was never awaited, or finalises a stream from another loop)."""
    worker = build_worker(client, settings)
    assert worker.openai is not None
    async with worker:
        await asyncio.sleep(0)
        assert not worker.openai.is_closed()
    assert worker.openai.is_closed()


async def test_the_open_conversations_gauge_counts_running_conversations(
    client: Client,
) -> None:
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(f"127.0.0.1:{port}")))
    gauge = asyncio.create_task(count_open_conversations(client, runtime.metric_meter, 0.05))

    async def gauge_shows(expected: int) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(100):
                seen = await scrape(http, port)
                if seen.value("durable_assistants_conversations_open") == expected:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the gauge never showed {expected}")

    try:
        before = (await client.count_workflows(OPEN_CONVERSATIONS)).count
        await gauge_shows(before)
        handle = await client.start_workflow(
            "AssistantThread",
            {"key": "gauge"},
            id=f"thread-gauge-{uuid.uuid4().hex[:8]}",
            task_queue=f"nobody-{uuid.uuid4().hex[:8]}",  # open, and never run
        )
        await gauge_shows(before + 1)
        await handle.terminate("test over")
        await gauge_shows(before)
    finally:
        gauge.cancel()


@both_backends
async def test_a_traced_run_has_workflow_activity_and_openai_http_spans(
    backend: str, settings: Settings, assistant: Assistant, task_queue: str
) -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(SimpleSpanProcessor(exporter), "test")
    traced = await connect(settings, tracing)
    async with build_worker(traced, settings, tracing=tracing):
        result = await run(traced, task_queue, ask(assistant, "What is the weather in Paris?"))
    assert result.status == "completed"
    spans = exporter.get_finished_spans()
    named = {span.name: span for span in spans}
    started = named["StartWorkflow:AssistantRun"]
    assert "RunWorkflow:AssistantRun" in named
    assert "RunActivity:tool.get_weather" in named
    assert {span.context.trace_id for span in spans} == {started.context.trace_id}
    http = [span for span in spans if span.attributes and "http.request.method" in span.attributes]
    assert http, "no OpenAI HTTP span"
    by_id = {span.context.span_id: span for span in spans}
    for span in http:
        assert span.parent is not None
        assert by_id[span.parent.span_id].name.startswith("RunActivity:")
        assert span.attributes is not None
        assert span.attributes["http.response.status_code"] == 200
        assert str(span.attributes["url.full"]).startswith(settings.openai_base_url or "")
    assert any(re.match(START_ROUTE[backend], span.name) for span in http)


async def test_fleet_backoffs_and_pacing_waits_show_in_the_workers_metrics(
    client: Client, settings: Settings, task_queue: str, faults: Callable[..., None]
) -> None:
    model = f"gpt-4o-metered-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {
        **cli_env(settings),
        "OPENAI_BACKEND": "responses",
        "METRICS_PORT": str(port),
        "MODEL_TOKENS_PER_MINUTE": f"{model}=1",
        "MODEL_TOKENS_WINDOW_SECONDS": "2",
    }
    worker = subprocess.Popen(  # noqa: ASYNC220
        [WORKER_CLI, "worker"], env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL
    )
    try:
        faults(FaultRule(status=429, retry_after=1, times=1, route=START_ROUTE["responses"]))
        spec = {"name": "metered", "model": model}
        first = ask(spec, "Say hi.", timeouts=QUICK)  # its 429 pauses the fleet for 1 s
        assert (await run(client, task_queue, first)).status == "completed"
        assert (await run(client, task_queue, ask(spec, "Hi again."))).status == "completed"
        async with httpx.AsyncClient(timeout=5) as http:
            seen = await scrape(http, port)
    finally:
        worker.kill()
        worker.wait()
    assert seen.value("durable_assistants_model_backoffs_total") == 1
    waited = {"model": model}
    assert seen.value("durable_assistants_pacing_wait_seconds_count", **waited) == 1
    assert seen.value("durable_assistants_pacing_wait_seconds_sum", **waited) > 0
