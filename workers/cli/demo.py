"""The offline demo: an assistant with the example tools answers a question that needs them."""

from __future__ import annotations

from rich.console import Console
from temporalio.client import Client, WorkflowFailureError

from workers import client as runs
from workers.cli.runs import print_result
from workers.settings import Settings
from workflows.contracts import AssistantSpec, InputMessage, RunRequest

DEMO_ASSISTANT = AssistantSpec(
    name="durable-assistants demo",
    model="gpt-4o",
    instructions="Answer with the tools' results.",
    tools=["get_weather", "calculate", "get_order_status"],
)
DEMO_QUESTION = "What is the weather in Paris and London? Then calculate (17 + 25) * 3"


async def run_demo(client: Client, settings: Settings, console: Console) -> None:
    request = RunRequest(assistant=DEMO_ASSISTANT, messages=[InputMessage(content=DEMO_QUESTION)])
    handle = await runs.start_run(client, settings.temporal_task_queue, request)
    console.print(f"\n[bold]Demo[/bold]: {DEMO_QUESTION}")
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        console.print(f"the demo run failed: {err.cause}", style="red", markup=False)
        return
    print_result(result, as_json=False, console=console)
    console.print(f"See it in the UI: [bold]{settings.workflow_ui_url(handle.id)}[/bold]\n")
