"""Encrypted payloads end to end: with PAYLOAD_ENCRYPTION_KEYS on the client and the worker,
nothing a user said, no tool's arguments or output and no answer can be read in any history
(payloads, memo, user metadata, failures, continue-as-new input, child workflow input, local
activity markers), while everything still works through the codec; and a conversation begun
before the codec was turned on goes on after it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.protobuf.message import Message
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHistory

from tests.integration.conftest import Assistant, ask, both_backends
from workers.client import send_message, thread_workflow_id
from workers.codec import ENCODING
from workers.connection import connect
from workers.settings import Settings
from workers.worker import build_worker
from workflows.contracts import IngestRequest, ThreadConfig
from workflows.ingest.workflow import VectorStoreIngest
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import AssistantThread

KEYS = ",".join(
    f"{kid}:{base64.b64encode(bytes([n] * 32)).decode()}" for n, kid in enumerate(["k1", "k2"])
)


@pytest.fixture
def codec_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"payload_encryption_keys": SecretStr(KEYS)})


@pytest.fixture
async def codec_client(codec_settings: Settings) -> Client:
    """A client made as every process of the project makes one: `connect`."""
    return await connect(codec_settings)


@dataclass
class Findings:
    """What one history shows to someone without the keys."""

    encrypted: int = 0
    plaintext: list[str] = field(default_factory=list)
    """Payloads not encrypted (search attributes aside), by their place in the event."""
    search_attributes: list[str] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)


def _walk(message: Message, path: str) -> Iterator[tuple[str, Message]]:
    yield path, message
    for descriptor, value in message.ListFields():
        name = f"{path}.{descriptor.name}"
        if isinstance(value, Message):
            yield from _walk(value, name)
        elif hasattr(value, "items"):  # a map
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from _walk(item, f"{name}[{key}]")
        elif not isinstance(value, str | bytes) and hasattr(value, "__iter__"):
            for index, item in enumerate(value):
                if isinstance(item, Message):
                    yield from _walk(item, f"{name}[{index}]")


def inspect(history: WorkflowHistory) -> Findings:
    found = Findings()
    for event in history.events:
        for path, message in _walk(event, f"#{event.event_id}"):
            if isinstance(message, Failure):
                found.failure_messages.append(message.message)
            if not isinstance(message, Payload):
                continue
            if ".search_attributes." in path:
                found.search_attributes.append(message.data.decode())
            elif message.metadata.get("encoding") == ENCODING:
                found.encrypted += 1
            else:
                found.plaintext.append(path)
    return found


def readable(history: WorkflowHistory, words: Sequence[str]) -> list[str]:
    """The words anyone can read in the history: in its proto bytes (where a plaintext
    payload's data is raw) or in its JSON (where it is base64, but messages are not)."""
    raw = History(events=list(history.events)).SerializeToString()
    text = history.to_json()
    return [word for word in words if word.encode() in raw or word in text]


async def every_history(client: Client, workflow_id: str) -> dict[tuple[str, str], WorkflowHistory]:
    """The histories of every execution of `workflow_id` (back through continue-as-new) and
    of their child workflows, by (workflow id, run id), read raw: without any codec."""
    found: dict[tuple[str, str], WorkflowHistory] = {}
    pending: list[tuple[str, str | None]] = [(workflow_id, None)]
    while pending:
        wanted, run_id = pending.pop()
        history = await client.get_workflow_handle(wanted, run_id=run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        found[wanted, started.original_execution_run_id] = history
        if started.continued_execution_run_id:
            pending.append((wanted, started.continued_execution_run_id))
        for event in history.events:
            if event.HasField("child_workflow_execution_started_event_attributes"):
                child = event.child_workflow_execution_started_event_attributes.workflow_execution
                pending.append((child.workflow_id, child.run_id))
    return found


@both_backends
async def test_a_run_with_tools_leaves_nothing_readable_in_its_history(
    client: Client,
    codec_client: Client,
    codec_settings: Settings,
    task_queue: str,
    assistant: Assistant,
) -> None:
    name, reason = f"Zorbulon{uuid.uuid4().hex[:6]}", f"Quuxplorgh{uuid.uuid4().hex[:6]}"
    expression, product = "1234567 * 7654321", "9449772114007"
    text = (
        f"{name} asks: call always_fails with "
        f'{{"reason": "{reason}"}} then call calculate with {{"expression": "{expression}"}}'
    )
    async with build_worker(codec_client, codec_settings):
        request = ask(assistant, text)
        handle = await codec_client.start_workflow(
            AssistantRun.run,
            request,
            id=f"run-{uuid.uuid4()}",
            task_queue=task_queue,
            memo={"asked_by": name},  # as the gateway keeps its request hash
            static_summary=request.summary(),
        )
        result = await handle.result()
        assert result.status == "completed"
        failed, computed = result.tool_calls
        assert (failed.name, failed.error, failed.attempts) == ("always_fails", "tool_failed", 2)
        assert f"always fails: {reason}" in failed.output
        assert (computed.name, computed.output) == ("calculate", product)
        assert product in result.output_text

        # memo, user metadata and current details read through the codec, not without it
        description = await handle.describe()
        assert await description.memo() == {"asked_by": name}
        assert name in (await description.static_summary() or "")
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert "**completed**" in metadata.current_details
        raw = await client.get_workflow_handle(handle.id).describe()
        with pytest.raises(Exception, match="binary/encrypted"):
            await raw.static_summary()

    histories = await every_history(client, handle.id)
    assert list(histories) == [(handle.id, handle.result_run_id)]
    [history] = histories.values()
    said = [name, reason, expression, product, "always fails", result.output_text]
    assert readable(history, said) == []
    found = inspect(history)
    assert found.plaintext == []
    memo = history.events[0].workflow_execution_started_event_attributes.memo.fields
    assert memo["asked_by"].metadata["encoding"] == ENCODING
    assert found.encrypted >= 10  # input, steps, tool calls, results, summaries, signals
    assert found.failure_messages, "the failing tool left a failure in the history"
    assert set(found.failure_messages) == {"Encoded failure"}
    assert '"completed"' in found.search_attributes  # RunPhase: ids and phases only
    assert readable(history, ["Here is what the tools said"]) == []


async def test_a_conversation_begun_before_the_codec_goes_on_encrypted(
    client: Client,
    codec_client: Client,
    settings: Settings,
    codec_settings: Settings,
    task_queue: str,
    assistant_id: str,
) -> None:
    before, after, later = (f"{word}{uuid.uuid4().hex[:6]}" for word in ("Plainly", "Hush", "Mum"))
    config = ThreadConfig(
        key=uuid.uuid4().hex[:12], assistant_id=assistant_id, runs_before_continue_as_new=2
    )
    async with build_worker(client, settings):  # no codec yet
        first = await send_message(client, task_queue, config, f"Hello {before}")
    async with build_worker(codec_client, codec_settings):  # the codec turned on
        second = await send_message(codec_client, task_queue, config, f"Hello {after}")
        third = await send_message(codec_client, task_queue, config, f"Hello {later}")
        assert [r.status for r in (first, second, third)] == ["completed"] * 3
        assert before in first.output_text
        assert (after in second.output_text, later in third.output_text) == (True, True)
        # the answer to the plaintext message went on, encrypted, through continue-as-new
        thread = codec_client.get_workflow_handle_for(
            AssistantThread.run, thread_workflow_id(config.key)
        )
        state = await thread.query(AssistantThread.state)
        assert state.runs_done == 3
        assert [r.output_text for r in state.recent] == [
            r.output_text for r in (first, second, third)
        ]
        run_ids = [summary.workflow_id for summary in state.recent]
        # a run written before the codec reads through it
        old_run = await codec_client.get_workflow_handle(run_ids[0]).result()
        assert old_run["output_text"] == first.output_text

    histories = await every_history(client, thread_workflow_id(config.key))
    conversation = thread_workflow_id(config.key)
    threads = [h for (wid, _), h in histories.items() if wid == conversation]
    runs = {wid: h for (wid, _), h in histories.items() if wid != conversation}
    assert len(threads) == 2, "the conversation continued as new after two runs"
    assert set(runs) == set(run_ids)
    secret = [after, later, second.output_text, third.output_text]
    for key, history in histories.items():
        assert readable(history, secret) == [], key
    # what was written before the codec stays as it was, plaintext, and the scan sees it
    [older] = [h for h in threads if not _continued(h)]
    [newer] = [h for h in threads if _continued(h)]
    assert readable(older, [before]) == [before]
    assert readable(runs[run_ids[0]], [before]) == [before]
    assert inspect(runs[run_ids[0]]).encrypted == 0
    # after it, nothing is plaintext: the new runs' histories, and the conversation continued
    # as new (its input carries the recent answers, the plaintext one's too)
    for history in (newer, runs[run_ids[1]], runs[run_ids[2]]):
        assert readable(history, [before]) == []
        assert inspect(history).plaintext == []
        assert inspect(history).encrypted > 0


def _continued(history: WorkflowHistory) -> bool:
    started = history.events[0].workflow_execution_started_event_attributes
    return bool(started.continued_execution_run_id)


async def test_an_ingest_in_parts_returns_its_outcomes_encrypted_and_readable_through_the_codec(
    client: Client,
    codec_client: Client,
    codec_settings: Settings,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """The parent passes its parts' outcomes through as JSON (`Parts`): what it returns is
    still encoded by the codec, and decodes to every outcome in order."""
    secret = f"Snorkwidget{uuid.uuid4().hex[:6]}"
    paths = [tmp_path / f"{secret}-{n}.md" for n in range(5)]
    for n, path in enumerate(paths):
        path.write_text(f"Document {n}: {uuid.uuid4()}")
    request = IngestRequest.model_validate(
        {
            "vector_store": {"name": f"codec-{uuid.uuid4().hex[:8]}"},
            "files": [{"path": str(p)} for p in paths],
            "files_per_child": 2,
        }
    )
    async with build_worker(codec_client, codec_settings):
        handle = await codec_client.start_workflow(
            VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await handle.result()
    assert [f.source for f in result.files] == [str(p) for p in paths]
    assert [f.status for f in result.files] == ["completed"] * 5
    histories = await every_history(client, handle.id)
    assert len(histories) == 4, "the parent and three parts"
    for key, history in histories.items():
        assert readable(history, [secret]) == [], key
        assert inspect(history).plaintext == [], key
    completion = (await client.get_workflow_handle(handle.id).fetch_history()).events[-1]
    [payload] = completion.workflow_execution_completed_event_attributes.result.payloads
    assert payload.metadata["encoding"] == ENCODING
