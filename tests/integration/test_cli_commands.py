"""`durable-assistants send | chat | schema` as a user types them."""

from __future__ import annotations

import json
import uuid

from tests.integration.conftest import run_cli as cli
from workers.settings import Settings


async def test_send_then_chat_continue_one_conversation(
    settings: Settings, worker: None, assistant_id: str
) -> None:
    key = uuid.uuid4().hex[:10]
    sent = await cli(
        settings, "send", key, "Say hello to Ada", "--assistant-id", assistant_id, "--json"
    )
    assert sent.returncode == 0, sent.stderr
    first = json.loads(sent.stdout)
    chat = await cli(
        settings,
        "chat",
        key,
        "--assistant-id",
        assistant_id,
        stdin="Say hello to Bob\n\nSay hello to Cy\n",
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.count("You said") == 2
    assert "Bob" in chat.stdout
    assert "Cy" in chat.stdout
    again = json.loads(
        (await cli(settings, "send", key, "Hi", "--assistant-id", assistant_id, "--json")).stdout
    )
    assert again["thread_id"] == first["thread_id"]


async def test_schema_describes_every_workflow_contract(settings: Settings) -> None:
    schemas = json.loads((await cli(settings, "schema")).stdout)
    run = schemas["AssistantRun"]
    assert "assistant_id" in run["input"]["properties"]
    assert run["output"]["properties"]["status"]["enum"] == [
        "completed",
        "failed",
        "cancelled",
        "expired",
        "incomplete",
    ]
    thread = schemas["AssistantThread"]
    assert set(thread["updates"]) == {"send_message", "cancel_current_run", "close", "configure"}
    assert "content" in thread["signals"]["post_message"]["properties"]


async def test_cleanup_schedule_is_idempotent_and_controllable(settings: Settings) -> None:
    args = ("cleanup", "schedule", "--every", "1h", "--file-max-age", "30d", "--dry-run")
    created = await cli(settings, *args)
    assert "created schedule durable-assistants-cleanup" in created.stderr, created.stderr
    assert "updated schedule" in (await cli(settings, *args)).stderr
    for action, said in (("pause", "paused"), ("unpause", "unpaused"), ("delete", "deleted")):
        result = await cli(settings, "cleanup", action)
        assert f"{said} schedule durable-assistants-cleanup" in result.stderr, result.stderr
    gone = await cli(settings, "cleanup", "pause")
    assert gone.returncode == 2
    assert gone.stderr == (
        "error: no cleanup schedule 'durable-assistants-cleanup'; create it with"
        " `durable-assistants cleanup schedule` (see its --help)\n"
    )
    bad = await cli(settings, "cleanup", "run", "--thread-max-age", "yesterday")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: --thread-max-age: expected a duration like 90s, 15m, 24h or 30d, got 'yesterday'"
    )
