"""`durable-assistants dev`: the Temporal dev server and a worker, in one command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from workers.connection import connect
from workers.settings import Settings
from workers.temporal_server import (
    ensure_port_free,
    start_dev_server,
    stop_process,
    wait_until_serving,
)
from workers.worker import build_worker, serve, stop_on_signals


@dataclass(frozen=True)
class DevStackOptions:
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 8390
    data_dir: Path = Path(".data")


async def run_dev_stack(settings: Settings, options: DevStackOptions, console: Console) -> None:
    ensure_port_free(options.ip, options.port, "--port")
    ensure_port_free(options.ip, options.ui_port, "--ui-port")
    stop = stop_on_signals()
    server = await start_dev_server(
        ip=options.ip,
        port=options.port,
        ui_port=options.ui_port,
        db_file=options.data_dir / "temporal.sqlite",
    )
    try:
        address = f"{options.ip}:{options.port}"
        await wait_until_serving(server, address, options.data_dir / "temporal.log")
        settings = settings.model_copy(
            update={"temporal_address": address, "temporal_namespace": "default"}
        )
        client = await connect(settings)
        console.print(f"Temporal UI: [bold]http://{options.ip}:{options.ui_port}[/bold]")
        console.print(f"Temporal gRPC: {address}, task queue {settings.temporal_task_queue}")
        console.print("Ctrl-C stops everything.")
        await serve(build_worker(client, settings), stop)
    finally:
        await stop_process(server)
