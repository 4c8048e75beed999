"""`durable-assistants tools ...`: the function tools registered from TOOLS_MODULES."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

from workers.cli.app import Backend, app
from workers.cli.support import cli_settings, console

if TYPE_CHECKING:
    from activities.tools import ToolRegistry

tools_app = typer.Typer(help="The function tools registered from TOOLS_MODULES.")
app.add_typer(tools_app, name="tools")


def _tool_registry() -> ToolRegistry:
    from workers.wiring import project_tools

    return project_tools(cli_settings())


@tools_app.command("list")
def tools_list() -> None:
    """Print the registered tools: activity type, task queue, timeout, retries."""
    registry = _tool_registry()
    if not registry:
        console.print("no tools registered: name your tool modules in TOOLS_MODULES")
        return
    names = ("tool", "activity", "task queue", "timeout", "attempts", "kind")
    table = Table(*(Column(name, no_wrap=True) for name in names), "description")
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
    _print_whole(table)


def _print_whole(table: Table) -> None:
    """Print on stdout, wider than the terminal if that is what it takes to cut no name (only
    the description wraps)."""
    out = Console()
    unbounded = out.options.update_width(sys.maxsize)
    narrowest = Measurement.get(out, unbounded, table).minimum
    Console(width=max(out.width, narrowest)).print(table)


@tools_app.command("schema")
def tools_schema(
    backend: Annotated[
        Backend, typer.Option(help="tool format: assistants or responses")
    ] = Backend.assistants,
) -> None:
    """Print the `tools` array to put on an assistant (or a response) as JSON."""
    print(json.dumps(_tool_registry().definitions(backend.value), indent=2))
