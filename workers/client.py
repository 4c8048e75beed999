"""A thin typed client for other Python services: start runs, read their state, cancel them.

Services in other languages start the same workflows by name with JSON (see README.md).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from openai import AsyncOpenAI
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.uploads import Uploads
from activities.vector_stores.files import content_hash
from workers.follow import follow as follow  # re-exported: client.follow(...)
from workers.follow import follow_conversation as follow_conversation
from workflows.contracts import (
    CancelRequest,
    ConfigureThread,
    IngestFile,
    RunRequest,
    RunResult,
    RunState,
    ThreadConfig,
    ThreadMessage,
    ThreadState,
)
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import CLOSING, CONTINUING, AssistantThread

UNPROCESSED = "UnprocessedUpdate"
"""The server's refusal of an update whose workflow task ended without taking it in (a task
that failed or timed out under load): it was never applied, so it is sent again."""
SEND_AGAIN = frozenset({CLOSING, CONTINUING, UNPROCESSED})
RESEND_FOR = timedelta(minutes=5)
RunHandle = WorkflowHandle[AssistantRun, RunResult]
ThreadHandle = WorkflowHandle[AssistantThread, ThreadState]


def thread_workflow_id(key: str) -> str:
    return f"thread-{key}"


async def open_thread_state(client: Client, key: str) -> ThreadState | None:
    """The state of the conversation `key` if it is open, else None."""
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(key))
    try:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return await handle.query(AssistantThread.state)


async def configure_thread(client: Client, key: str, request: ConfigureThread) -> ThreadState:
    """Change who answers the conversation's next messages."""
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(key))
    return await handle.execute_update(AssistantThread.configure, request)


async def reopening(client: Client, config: ThreadConfig) -> ThreadConfig:
    """`config`, naming the key's last execution if it has closed (looked up by id, which is
    strongly consistent): a conversation started again takes over its thread and counts
    even before the visibility index has the close."""
    handle = client.get_workflow_handle(thread_workflow_id(config.key))
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return config
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        return config
    return config.model_copy(update={"previous_run_id": described.run_id})


def as_message(message: ThreadMessage | str) -> ThreadMessage:
    return ThreadMessage(content=message) if isinstance(message, str) else message


async def send_message(
    client: Client,
    task_queue: str,
    config: ThreadConfig,
    message: ThreadMessage | str,
    resend_for: timedelta = RESEND_FOR,
) -> RunResult:
    """Send a message to the conversation `config.key` and wait for its answer. The thread
    workflow is started if it does not exist: one atomic call, no race between callers. A
    conversation that is closing or continuing as new refuses the message for a moment, and
    the server holds at most a few messages waiting for their answers at once (its limit on
    in-flight updates) and aborts one it had not yet handed to the workflow when it reloads the
    workflow (unavailable): each way it is sent again, for up to `resend_for`, under the same
    update id, so the server takes a message that did arrive for the same one."""
    message = as_message(message)
    update_id = f"message-{uuid.uuid4()}"
    deadline = asyncio.get_running_loop().time() + resend_for.total_seconds()
    delay = 0.05
    while True:
        start = WithStartWorkflowOperation(
            AssistantThread.run,
            await reopening(client, config),
            id=thread_workflow_id(config.key),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=task_queue,
            static_summary=config.summary(),
        )
        try:
            return await client.execute_update_with_start_workflow(
                AssistantThread.send_message, message, start_workflow_operation=start, id=update_id
            )
        except (WorkflowUpdateFailedError, RPCError) as err:
            if not send_again(err) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


def send_again(err: WorkflowUpdateFailedError | RPCError, closing_too: bool = True) -> bool:
    """Whether a message refused so is to be sent again (under the same update id): the
    conversation continues as new, closes (`closing_too`: a send that can start it again),
    or the server holds too many of its messages waiting or aborted the update."""
    if isinstance(err, RPCError):  # too many messages wait for answers; one was aborted
        return err.status in (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE)
    cause = err.cause
    kinds = SEND_AGAIN if closing_too else SEND_AGAIN - {CLOSING}
    return isinstance(cause, ApplicationError) and cause.type in kinds


async def post_message(
    client: Client, task_queue: str, config: ThreadConfig, message: ThreadMessage | str
) -> ThreadHandle:
    """Queue a message without waiting for the answer (signal-with-start)."""
    message = as_message(message)
    return await client.start_workflow(
        AssistantThread.run,
        await reopening(client, config),
        id=thread_workflow_id(config.key),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="post_message",
        start_signal_args=[message],
        static_summary=config.summary(),
    )


async def start_run(
    client: Client, task_queue: str, request: RunRequest, workflow_id: str | None = None
) -> RunHandle:
    return await client.start_workflow(
        AssistantRun.run,
        request,
        id=workflow_id or f"run-{uuid.uuid4()}",
        task_queue=task_queue,
        static_summary=request.summary(),
    )


async def run_state(client: Client, workflow_id: str) -> RunState:
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    return await handle.query(AssistantRun.state)


async def run_result(client: Client, workflow_id: str) -> RunResult:
    return await client.get_workflow_handle_for(AssistantRun.run, workflow_id).result()


async def cancel_run(client: Client, workflow_id: str, reason: str) -> RunState:
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    return await handle.execute_update(AssistantRun.cancel, CancelRequest(reason=reason))


async def upload_files(
    openai: AsyncOpenAI, paths: list[Path], on_uploaded: Callable[[], object] = lambda: None
) -> list[IngestFile]:
    """Upload files from this machine, once per content (a file already uploaded by this
    system is reused): entries for `VectorStoreIngest` or attachments that carry only file
    ids, so workers on other hosts never need to read the caller's disk. `on_uploaded` is
    called after each file."""
    uploads = Uploads(openai)
    hashed = [await asyncio.to_thread(content_hash, IngestFile(path=str(p))) for p in paths]
    existing = await uploads.existing({digest for digest, _ in hashed})
    files = []
    for path, (digest, _) in zip(paths, hashed, strict=True):
        if digest not in existing:
            existing[digest] = await uploads.upload(path.name, path, digest)
        files.append(IngestFile(file_id=existing[digest], filename=path.name))
        on_uploaded()
    return files
