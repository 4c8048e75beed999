"""What a process tells its operators: the Temporal runtime (its core logs through `logging`,
its metrics on a Prometheus endpoint when METRICS_PORT is set) and OpenTelemetry traces
(workflow, activity and OpenAI HTTP spans, exported over OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT is set)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx2 as httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, use_span
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workers.settings import Settings, SettingsError
from workflows.run.metrics import (
    DURATION_BUCKETS_SECONDS,
    PACING_WAIT,
    RUN_DURATION,
    RUN_WAIT,
    TOOL_CALL_DURATION,
)

CORE_LOGGER = "temporalio.core"
OPENAI_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
"""The openai SDK's default, which a client of our own would otherwise lose."""


def openai_connection_limits(max_connections: int) -> httpx.Limits:
    """The openai SDK's own limits (1,000 connections, 100 kept alive) with `max_connections`
    (OPENAI_MAX_CONNECTIONS): a worker keeps a connection open per run it follows."""
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=100)


@functools.cache
def temporal_runtime(metrics_port: int | None = None) -> Runtime:
    """The runtime every client of this process connects with (one: each has a thread pool).
    The SDK core's warnings and errors go through `logging`, named after their Rust target
    (`temporalio.core-sdk_core::temporalio_client::retry`), not to stderr in ANSI colours.
    With `metrics_port`, the SDK's metrics and the project's (`workflows.run.metrics`) are
    served at http://0.0.0.0:PORT/metrics."""
    forwarding = LogForwardingConfig(
        logger=logging.getLogger(CORE_LOGGER), prepend_target_on_message=False
    )
    core_logging = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forwarding
    )
    metrics = None
    if metrics_port is not None:
        buckets = [float(b) for b in DURATION_BUCKETS_SECONDS]
        metrics = PrometheusConfig(
            bind_address=f"0.0.0.0:{metrics_port}",
            durations_as_seconds=True,
            histogram_bucket_overrides={
                name: buckets for name in (RUN_DURATION, RUN_WAIT, TOOL_CALL_DURATION, PACING_WAIT)
            },
        )
    try:
        return Runtime(telemetry=TelemetryConfig(logging=core_logging, metrics=metrics))
    except ValueError as err:  # the exporter could not bind its port
        message = f"METRICS_PORT: cannot serve metrics on port {metrics_port}: {err}"
        raise SettingsError(message) from None


class Tracing:
    """One tracer provider for the process: Temporal's client, workflow and activity spans
    (`TracingInterceptor`) and a span per OpenAI HTTP request, as a child of its activity's."""

    def __init__(self, processor: SpanProcessor, service_name: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("durable-assistants")

    @classmethod
    def from_settings(cls, settings: Settings, command: str) -> Tracing | None:
        """Tracing to OTEL_EXPORTER_OTLP_ENDPOINT, or None when it is not set; the service is
        OTEL_SERVICE_NAME or durable-assistants-`command`."""
        endpoint = settings.otel_exporter_otlp_endpoint
        if not endpoint:
            return None
        service_name = settings.otel_service_name or f"durable-assistants-{command}"
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter: SpanExporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        return cls(BatchSpanProcessor(exporter), service_name)

    def interceptor(self) -> TracingInterceptor:
        # Workflows started by other services or schedules have no client span to hang off.
        return TracingInterceptor(self.tracer, always_create_workflow_spans=True)

    def http_client(self, max_connections: int = 1000) -> httpx.AsyncClient:
        """An HTTP client for `AsyncOpenAI` whose every request is a span."""
        inner = httpx.AsyncHTTPTransport(limits=openai_connection_limits(max_connections))
        return httpx.AsyncClient(
            transport=TracedTransport(inner, self.tracer),
            timeout=OPENAI_TIMEOUT,
            follow_redirects=True,
        )

    def shutdown(self, timeout: timedelta = timedelta(seconds=5)) -> None:
        self.provider.force_flush(int(timeout.total_seconds() * 1000))
        self.provider.shutdown()


class TracedTransport(httpx.AsyncBaseTransport):
    """A span from the request until its body was read (a streamed answer included)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: Tracer) -> None:
        self.inner = inner
        self.tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        span = self.tracer.start_span(
            f"{request.method} {request.url.path}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.full": str(request.url.copy_with(query=None)),
                "server.address": request.url.host,
            },
        )
        try:
            with use_span(span, end_on_exit=False):
                response = await self.inner.handle_async_request(request)
        except Exception as err:
            span.record_exception(err)
            span.set_status(Status(StatusCode.ERROR, type(err).__name__))
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_status(Status(StatusCode.ERROR))
        response.stream = SpanEndingStream(response.stream, span)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class SpanEndingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream | httpx.SyncByteStream, span: Span) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self.inner = inner
        self.span = span

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.span.end()
