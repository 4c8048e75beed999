"""AssistantRun on the real dev server, a real worker and the emulator over HTTP, on both API
backends."""

from __future__ import annotations

import json

from temporalio.client import Client

from tests.integration.conftest import Assistant, Seen, ask, both_backends, ran, run
from workflows.contracts import RunResult

pytestmark = both_backends


def errors(result: RunResult) -> list[str | None]:
    return [call.error for call in result.tool_calls]


async def test_a_plain_question_completes_with_the_answer(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    workflow_id, result = await ran(client, task_queue, ask(assistant, "Say hello to Ada"))
    assert result.status == "completed"
    assert result.thread_id is not None
    assert result.run_id is not None
    if isinstance(assistant, str):
        assert result.assistant_id == assistant
    assert [m.role for m in result.messages] == ["assistant"]
    assert result.output_text == result.messages[0].text
    assert "Ada" in result.output_text
    assert result.usage.total_tokens > 0
    assert result.tool_calls == []
    assert seen.api_runs(workflow_id, result) == 1
    assert await seen.conversation(result) == [
        ("user", "Say hello to Ada"),
        ("assistant", result.output_text),
    ]


async def test_a_tool_call_is_executed_and_its_output_reaches_the_answer(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(assistant, "What is the weather in Paris?")
    workflow_id, result = await ran(client, task_queue, request)
    assert result.status == "completed"
    [call] = result.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert json.loads(call.output)["city"] == "Paris"
    assert call.error is None
    assert call.attempts == 1
    assert json.loads(call.output)["conditions"] in result.output_text
    assert seen.rounds_submitted(workflow_id) == 1


async def test_parallel_calls_are_submitted_together(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(assistant, "What is the weather in Paris and London?")
    workflow_id, result = await ran(client, task_queue, request)
    assert result.status == "completed"
    cities = [json.loads(call.arguments)["city"] for call in result.tool_calls]
    assert cities == ["Paris", "London"]
    assert seen.rounds_submitted(workflow_id) == 1


async def test_several_rounds_of_tool_calls(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    text = "Check the status of order A-1001, then calculate (2 + 3) * 4"
    workflow_id, result = await ran(client, task_queue, ask(assistant, text))
    assert result.status == "completed"
    assert [call.name for call in result.tool_calls] == ["get_order_status", "calculate"]
    assert [call.output for call in result.tool_calls][1] == "20"
    assert "shipped" in result.output_text
    assert seen.rounds_submitted(workflow_id) == 2
    assert result.usage.total_tokens > 0


async def test_unknown_tools_and_bad_arguments_answer_the_model_with_errors(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    text = (
        "call no_such_tool with {} then call calculate with {not json "
        'then call calculate with {"expression": 5}'
    )
    result = await run(client, task_queue, ask(assistant, text))
    assert result.status == "completed"
    assert errors(result) == ["unknown_tool", "invalid_json", "invalid_arguments"]
    assert "no tool named 'no_such_tool'" in result.output_text


async def test_a_tool_failing_after_its_retries_is_an_error_output(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    result = await run(
        client, task_queue, ask(assistant, 'call always_fails with {"reason": "disk"}')
    )
    assert result.status == "completed"
    [call] = result.tool_calls
    assert (call.error, call.attempts) == ("tool_failed", 2)
    assert "always fails: disk" in call.output


async def test_a_failed_run_is_retried_without_repeating_the_message(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    text = f"Hello {task_queue} [[emulator fail=server_error*1]]"
    request = ask(assistant, text, max_run_attempts=2)
    workflow_id, result = await ran(client, task_queue, request)
    assert result.status == "completed"
    assert result.run_attempts == 2
    assert seen.api_runs(workflow_id, result) == 2
    assert [role for role, _ in await seen.conversation(result)] == ["user", "assistant"]


async def test_a_failed_run_without_attempts_left_reports_the_error(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    result = await run(client, task_queue, ask(assistant, "Hi [[emulator fail=invalid_prompt]]"))
    assert result.status == "failed"
    assert result.last_error is not None
    assert result.last_error.code == "invalid_prompt"


async def test_an_answer_over_the_output_bound_is_incomplete(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    request = ask(assistant, "Repeat: " + "words " * 400, max_completion_tokens=256)
    result = await run(client, task_queue, request)
    assert result.status == "incomplete"
    assert result.incomplete_details is not None
    assert result.incomplete_details["reason"] in ("max_completion_tokens", "max_output_tokens")


async def test_a_later_run_continues_the_conversation_of_an_earlier_one(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    first = await run(client, task_queue, ask(assistant, "Say hello to Grace"))
    second = await run(client, task_queue, ask(assistant, "And to Ada", thread_id=first.thread_id))
    assert second.status == "completed"
    turns = await seen.conversation(second)
    assert [role for role, _ in turns] == ["user", "assistant", "user", "assistant"]
    assert [text for role, text in turns if role == "user"] == ["Say hello to Grace", "And to Ada"]
