"""`durable-assistants run --follow | follow | send --follow` as a user types them."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from temporalio.client import Client

from tests.integration.conftest import WORKER_CLI, ask, cli_env, start
from tests.integration.conftest import run_cli as cli
from workers.settings import Settings
from workflows.thread.workflow import AssistantThread

SLOW = "[[emulator delta_interval=0.03]]"


async def test_run_follow_prints_the_tool_calls_as_they_happen_then_the_answer(
    settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    ran = await cli(
        settings,
        *("run", "--assistant-id", assistant_id, "--follow"),
        *("-m", f"{SLOW} What is the weather in Rome?"),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("Here is what the tools said: get_weather returned")
    assert ran.stdout.count("get_weather returned") == 1
    lines = ran.stderr.splitlines()
    started = next(i for i, line in enumerate(lines) if line.startswith("→ get_weather("))
    assert lines[started + 1].startswith("← get_weather: ")


async def test_follow_json_lines_from_an_offset_of_a_run_that_ended(
    client: Client, settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    handle = await start(client, settings.temporal_task_queue, ask(assistant_id, "Hello"))
    result = await handle.result()
    whole = await cli(settings, "follow", handle.id, "--json", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    events = [json.loads(line) for line in whole.stdout.splitlines()]
    assert [e["offset"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "run.ended"
    assert events[-1]["result"]["output_text"] == result.output_text
    tail = await cli(settings, "follow", handle.id, "--json", "--from", "2", cwd=tmp_path)
    assert [json.loads(line) for line in tail.stdout.splitlines()] == events[2:]
    plain = await cli(settings, "follow", handle.id, cwd=tmp_path)
    assert plain.stdout == result.output_text + "\n"


async def test_follow_of_a_failed_run_says_why_and_exits_1(
    client: Client, settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    request = ask(assistant_id, "Hello", tools=["no_such_tool"])
    handle = await start(client, settings.temporal_task_queue, request)
    followed = await cli(settings, "follow", handle.id, cwd=tmp_path)
    assert followed.returncode == 1
    assert followed.stderr.startswith(
        "error: the run failed: tools: no registered tool named 'no_such_tool' (registered: "
    )


async def test_follow_of_an_unknown_run_is_one_line_and_exits_2(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    followed = await cli(settings, "follow", "run-nobody-started", cwd=tmp_path)
    assert followed.returncode == 2
    assert followed.stderr.strip().endswith("no workflow run-nobody-started in namespace default")


async def test_send_follow_prints_the_answer_as_written_and_follow_thread_sees_the_next_runs(
    client: Client, settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    key = f"cli-follow-{uuid.uuid4().hex[:8]}"
    args = ("--assistant-id", assistant_id, "--follow")
    first = await cli(settings, "send", key, f"{SLOW} first question", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    said = 'You said: "first question". This deterministic answer comes from the emulator.'
    assert first.stdout == said + "\n"
    follower = await asyncio.create_subprocess_exec(
        WORKER_CLI,
        *("follow", f"thread-{key}"),
        env=cli_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # (the answer takes 3 s: the follower, starting meanwhile, finds it answering)
    later = "second question [[emulator in_progress=3]]"
    second = await cli(settings, "send", key, later, *args, cwd=tmp_path)
    assert second.stdout.startswith('You said: "second question"')
    thread = client.get_workflow_handle_for(AssistantThread.run, f"thread-{key}")
    await thread.execute_update(AssistantThread.close)
    out, err = await asyncio.wait_for(follower.communicate(), timeout=30)
    assert follower.returncode == 0, err
    assert out.decode() == second.stdout
