"""`durable-assistants dev`: the Temporal dev server and a worker, in one command."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from workers.connection import connect
from workers.demo import run_demo
from workers.ports import ensure_port_free
from workers.settings import EXAMPLE_TOOLS, Settings, SettingsError
from workers.temporal_server import start_dev_server, stop_process, wait_until_serving
from workers.worker import build_worker, serve, stop_on_signals


@dataclass(frozen=True)
class DevStackOptions:
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 8390
    data_dir: Path = Path(".data")
    demo: bool = False


EMULATOR_API_KEY = "sk-emulator"


async def run_dev_stack(settings: Settings, options: DevStackOptions, console: Console) -> None:
    use_emulator = settings.openai_api_key is None
    if use_emulator:
        require_emulator()
    if "tools_modules" not in settings.model_fields_set:
        settings = settings.model_copy(update={"tools_modules": EXAMPLE_TOOLS})
    ensure_port_free(options.ip, options.port, "--port")
    ensure_port_free(options.ip, options.ui_port, "--ui-port")
    if use_emulator:
        ensure_port_free(options.ip, options.emulator_port, "--emulator-port")
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
        if use_emulator:
            from emulator.server import BackgroundEmulator

            emulator = BackgroundEmulator(host=options.ip, port=options.emulator_port).start()
            settings = settings.model_copy(
                update={
                    "openai_base_url": emulator.base_url,
                    "openai_api_key": SecretStr(EMULATOR_API_KEY),
                }
            )
            console.print(f"OpenAI emulator: {emulator.base_url} (OPENAI_API_KEY is not set)")
        else:
            console.print("OpenAI: using OPENAI_API_KEY")
        console.print("Ctrl-C stops everything.")
        ui = f"http://{options.ip}:{options.ui_port}"
        settings = settings.model_copy(update={"temporal_ui_url": ui})
        demo = asyncio.create_task(run_demo(client, settings, console)) if options.demo else None
        try:
            await serve(build_worker(client, settings), stop)
        finally:
            if demo is not None:
                demo.cancel()
            if use_emulator:
                emulator.stop()
    finally:
        await stop_process(server)


def require_emulator() -> None:
    """The emulator is a distribution of its own (emulator/): say how to get it."""
    try:
        import emulator.server  # noqa: F401
    except ImportError as err:
        raise SettingsError(
            f"the OpenAI emulator is not installed ({err}): pip install ./emulator from the "
            "repository, or set OPENAI_API_KEY to use OpenAI"
        ) from None
