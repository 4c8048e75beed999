"""`durable-assistants tools ...`: the function tools registered from TOOLS_MODULES."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from workers.cli_support import cli_settings, console

if TYPE_CHECKING:
    from activities.tools import ToolRegistry

tools_app = typer.Typer(help="The function tools registered from TOOLS_MODULES.")


class Backend(StrEnum):
    assistants = "assistants"
    responses = "responses"


def _tool_registry() -> ToolRegistry:
    from workers.worker import project_tools

    return project_tools(cli_settings())


@tools_app.command("list")
def tools_list() -> None:
    """Print the registered tools: activity type, task queue, timeout, retries."""
    registry = _tool_registry()
    if not registry:
        console.print("no tools registered: name your tool modules in TOOLS_MODULES")
        return
    table = Table("tool", "activity", "task queue", "timeout", "attempts", "kind", "description")
    for registered in registry:
        spec = registered.spec
        table.add_row(
            spec.name,
            spec.activity_type,
            spec.task_queue or "(worker's)",
            f"{spec.timeout_seconds:g}s",
            str(spec.retry.max_attempts or "unlimited"),
            "external" if spec.external else ("strict" if spec.strict else "function"),
            spec.description.splitlines()[0] if spec.description else "",
        )
    Console().print(table)


@tools_app.command("schema")
def tools_schema(
    backend: Annotated[
        Backend, typer.Option(help="tool format: assistants or responses")
    ] = Backend.assistants,
) -> None:
    """Print the `tools` array to put on an assistant (or a response) as JSON."""
    print(json.dumps(_tool_registry().definitions(backend.value), indent=2))
