"""The worker's liveness and readiness endpoints (HEALTH_PORT), for orchestrators' probes.

`/livez` answers 200 while the process's event loop runs. `/readyz` answers 200 once the
worker polls its task queue and Temporal lists it among the queue's pollers, else 503 with the
reason. A worker without a web framework needs only these two GETs, so they are served with
asyncio's own streams.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from workers.settings import SettingsError

Check = Callable[[], Awaitable[str | None]]
"""None when ready, else why not."""
READINESS_TIMEOUT_SECONDS = 3.0
REQUEST_TIMEOUT_SECONDS = 5.0
QUEUE_TYPES = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


class WorkerReadiness:
    """Ready: the worker runs and the server lists it among its task queue's pollers.
    A positive answer is kept for a few seconds so frequent probes cost one RPC."""

    def __init__(self, client: Client, worker: Worker, cache_seconds: float = 5.0) -> None:
        self.client = client
        self.worker = worker
        self.cache_seconds = cache_seconds
        self.ready_until = 0.0

    async def __call__(self) -> str | None:
        if not self.worker.is_running:
            return "the worker is not running"
        if time.monotonic() < self.ready_until:
            return None
        try:
            pollers = await asyncio.wait_for(self._pollers(), READINESS_TIMEOUT_SECONDS)
        except Exception as err:
            return f"cannot reach Temporal: {err}"
        if self.client.identity not in pollers:
            return f"not yet polling task queue {self.worker.task_queue}"
        self.ready_until = time.monotonic() + self.cache_seconds
        return None

    async def _pollers(self) -> set[str]:
        identities: set[str] = set()
        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=self.worker.task_queue),
                    task_queue_type=kind,
                )
            )
            identities.update(poller.identity for poller in response.pollers)
        return identities


@asynccontextmanager
async def health_endpoints(port: int, ready: Check) -> AsyncIterator[asyncio.Server]:
    """Serve /livez and /readyz on 0.0.0.0:`port` for the block's duration."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_SECONDS)
            method, path, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, body = await _route(method, path, ready)
            payload = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(answer, "0.0.0.0", port)
    except OSError as err:
        raise SettingsError(f"HEALTH_PORT: cannot serve on port {port}: {err.strerror}") from None
    async with server:
        yield server


async def _route(method: str, path: str, ready: Check) -> tuple[str, dict[str, str]]:
    if method != "GET":
        return "405 Method Not Allowed", {"error": "only GET"}
    if path == "/livez":
        return "200 OK", {"status": "alive"}
    if path == "/readyz":
        reason = await ready()
        if reason is None:
            return "200 OK", {"status": "ready"}
        return "503 Service Unavailable", {"status": "not ready", "reason": reason}
    return "404 Not Found", {"error": f"no {path}: try /livez or /readyz"}
