"""`durable-assistants send | chat`: conversations (AssistantThread) from the command line."""

from __future__ import annotations

import asyncio
import functools
import sys
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from temporalio.client import Client

from workers import client as conversations
from workers.cli.errors import result_exit_code
from workers.cli.progress import ProgressPrinter, ask_on_the_terminal, print_answer_progress
from workers.cli.runs import load_assistant, print_result
from workers.cli.unserved import warning_if_unserved
from workers.connection import connect
from workers.follow import current_run_number
from workers.settings import Settings, SettingsError
from workflows.common import first_error
from workflows.contracts import ConfigureThread, RunResult, ThreadConfig, ThreadState
from workflows.run.contracts import who_answers


def thread_config(
    key: str, assistant_id: str | None, assistant_file: Path | None, backend: StrEnum | None
) -> ThreadConfig:
    """The config a new conversation starts with (an existing one keeps its own)."""
    if (assistant_id is None) == (assistant_file is None):
        raise SettingsError("give exactly one of --assistant-id and --assistant-file")
    assistant = load_assistant(assistant_file) if assistant_file else None
    fields = {"key": key, "assistant_id": assistant_id, "assistant": assistant}
    try:
        return ThreadConfig.model_validate({**fields, "backend": backend and backend.value})
    except ValidationError as err:
        raise SettingsError(f"KEY: {first_error(err)[1]}") from None


async def configure_command(settings: Settings, config: ThreadConfig, console: Console) -> None:
    client = await connect(settings)
    target = config.model_dump(include={"assistant_id", "assistant", "prompt"})
    state = await conversations.configure_thread(
        client, config.key, ConfigureThread.model_validate(target)
    )
    console.print(f"conversation {config.key}: next messages answered by {config.summary()}")
    print(state.model_dump_json(indent=2))


async def refuse_another_assistant(client: Client, config: ThreadConfig) -> None:
    """A conversation that is open answers with its own assistant: a message meant for
    another one is refused here rather than answered by the wrong one."""
    state = await conversations.open_thread_state(client, config.key)
    if state is not None and not state.answers_like(config):
        raise SettingsError(
            f"conversation {config.key} is answered by {_answered_by(state)}, not this "
            f"assistant: `durable-assistants configure {config.key} ...` switches it"
        )


def _answered_by(state: ThreadState) -> str:
    return who_answers(state.assistant_id, state.assistant, state.prompt)


async def send_command(
    settings: Settings,
    config: ThreadConfig,
    text: str,
    as_json: bool,
    follow: bool,
    console: Console,
) -> int:
    """Send, print the answer (as it is written if `follow`); the exit code says whether it
    completed."""
    client = await connect(settings)
    await refuse_another_assistant(client, config)
    printer = ProgressPrinter(console) if follow and not as_json else None
    result = await _send(client, settings.temporal_task_queue, config, text, printer, console)
    if printer is None:
        print_result(result, as_json, console)
    return result_exit_code(result)


async def chat_command(
    settings: Settings, config: ThreadConfig, follow: bool, console: Console
) -> int:
    """Send each line read; the exit code says whether the last answer completed."""
    client = await connect(settings)
    await refuse_another_assistant(client, config)
    console.print(f"[dim]conversation {config.key}; Ctrl-D to end[/dim]")
    printer = ProgressPrinter(console) if follow else None
    task_queue = settings.temporal_task_queue
    last: RunResult | None = None
    while line := await asyncio.to_thread(sys.stdin.readline):
        if line.strip():
            text = line.strip()
            last = await _send(client, task_queue, config, text, printer, console, ask=True)
            if printer is None:
                print_result(last, as_json=False, console=console)
    return result_exit_code(last) if last else 0


async def _send(
    client: Client,
    task_queue: str,
    config: ThreadConfig,
    text: str,
    printer: ProgressPrinter | None,
    console: Console,
    ask: bool = False,
) -> RunResult:
    """Send and wait for the answer; with a printer, print the answer's run as it goes
    (and, if `ask`, ask on the terminal whether each call that waits for approval may run)."""
    async with warning_if_unserved(client, task_queue, console):
        if printer is None:
            return await conversations.send_message(client, task_queue, config, text)
        first = await current_run_number(client, config.key)
        answer = asyncio.create_task(conversations.send_message(client, task_queue, config, text))
        approver = functools.partial(ask_on_the_terminal, client) if ask else None
        return await print_answer_progress(client, config.key, first, answer, printer, approver)
