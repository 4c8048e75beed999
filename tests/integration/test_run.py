"""AssistantRun on the real dev server, a real worker and the emulator over HTTP."""

from __future__ import annotations

import json

from openai import AsyncOpenAI
from temporalio.client import Client

from tests.integration.conftest import Counters, ask, run
from workflows.contracts import RunResult


def errors(result: RunResult) -> list[str | None]:
    return [call.error for call in result.tool_calls]


async def test_a_plain_question_completes_with_the_answer(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    result = await run(client, task_queue, ask(assistant_id, "Say hello to Ada"))
    assert result.status == "completed"
    assert result.thread_id is not None
    assert result.run_id is not None
    assert result.assistant_id == assistant_id
    assert [m.role for m in result.messages] == ["assistant"]
    assert result.output_text == result.messages[0].text
    assert "Ada" in result.output_text
    assert result.usage.total_tokens > 0
    assert result.tool_calls == []
    assert counters.of_thread("runs_created", result.thread_id) == 1
    assert counters.of_thread("messages_created", result.thread_id) == 1  # user messages


async def test_a_tool_call_is_executed_and_its_output_reaches_the_answer(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    result = await run(client, task_queue, ask(assistant_id, "What is the weather in Paris?"))
    assert result.status == "completed"
    [call] = result.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert json.loads(call.output)["city"] == "Paris"
    assert call.error is None
    assert call.attempts == 1
    assert json.loads(call.output)["conditions"] in result.output_text
    assert counters.delta("tool_output_submissions", "accepted") == 1


async def test_parallel_calls_are_submitted_together(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    result = await run(
        client, task_queue, ask(assistant_id, "What is the weather in Paris and London?")
    )
    assert result.status == "completed"
    cities = [json.loads(call.arguments)["city"] for call in result.tool_calls]
    assert cities == ["Paris", "London"]
    assert counters.delta("tool_output_submissions", "accepted") == 1


async def test_several_rounds_of_tool_calls(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    text = "Check the status of order A-1001, then calculate (2 + 3) * 4"
    result = await run(client, task_queue, ask(assistant_id, text))
    assert result.status == "completed"
    assert [call.name for call in result.tool_calls] == ["get_order_status", "calculate"]
    assert [call.output for call in result.tool_calls][1] == "20"
    assert "shipped" in result.output_text
    assert counters.delta("tool_output_submissions", "accepted") == 2


async def test_unknown_tools_and_bad_arguments_answer_the_model_with_errors(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    text = (
        "call no_such_tool with {} then call calculate with {not json "
        'then call calculate with {"expression": 5}'
    )
    result = await run(client, task_queue, ask(assistant_id, text))
    assert result.status == "completed"
    assert errors(result) == ["unknown_tool", "invalid_json", "invalid_arguments"]
    assert "no tool named 'no_such_tool'" in result.output_text


async def test_a_tool_failing_after_its_retries_is_an_error_output(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    result = await run(
        client, task_queue, ask(assistant_id, 'call always_fails with {"reason": "disk"}')
    )
    assert result.status == "completed"
    [call] = result.tool_calls
    assert (call.error, call.attempts) == ("tool_failed", 2)
    assert "always fails: disk" in call.output


async def test_a_failed_run_is_retried_without_repeating_the_message(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    request = ask(assistant_id, "Hello [[emulator fail=server_error*1]]", max_run_attempts=2)
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert result.run_attempts == 2
    assert result.thread_id is not None
    assert counters.of_thread("runs_created", result.thread_id) == 2
    assert counters.of_thread("messages_created", result.thread_id) == 1  # user messages


async def test_a_failed_run_without_attempts_left_reports_the_error(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    result = await run(client, task_queue, ask(assistant_id, "Hi [[emulator fail=invalid_prompt]]"))
    assert result.status == "failed"
    assert result.last_error is not None
    assert result.last_error.code == "invalid_prompt"


async def test_a_prompt_over_max_prompt_tokens_is_incomplete(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    request = ask(assistant_id, "Summarise: " + "words " * 400, max_prompt_tokens=256)
    result = await run(client, task_queue, request)
    assert result.status == "incomplete"
    assert result.incomplete_details == {"reason": "max_prompt_tokens"}


async def test_an_existing_thread_gets_the_new_messages(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread = await openai.beta.threads.create()
    request = ask(assistant_id, "Say hello to Grace", thread_id=thread.id)
    result = await run(client, task_queue, request)
    assert result.thread_id == thread.id
    listed = [m async for m in openai.beta.threads.messages.list(thread.id, order="asc")]
    assert [m.role for m in listed] == ["user", "assistant"]
