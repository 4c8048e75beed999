"""`durable-assistants dev`: the Temporal dev server and a worker, in one command."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from rich.console import Console
from temporalio.client import Client

from workers.cli.demo import run_demo
from workers.connection import connect
from workers.ports import ensure_port_free
from workers.settings import EXAMPLE_TOOLS, Settings, SettingsError
from workers.temporal_server import start_dev_server, stop_process, wait_until_serving
from workers.worker import build_worker, serve, stop_on_signals

if TYPE_CHECKING:
    from emulator.server import BackgroundEmulator


@dataclass(frozen=True)
class DevStackOptions:
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 8390
    data_dir: Path = Path(".data")
    demo: bool = False

    @property
    def emulator_state_file(self) -> Path:
        """Beside Temporal's database: conversations Temporal remembers still exist."""
        return self.data_dir / "emulator.pickle"


EMULATOR_API_KEY = "sk-emulator"


async def run_dev_stack(settings: Settings, options: DevStackOptions, console: Console) -> None:
    use_emulator = settings.openai_api_key is None
    if use_emulator:
        require_emulator()
    if "tools_modules" not in settings.model_fields_set:
        settings = settings.model_copy(update={"tools_modules": EXAMPLE_TOOLS})
    _ensure_ports_free(options, use_emulator)
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
        ui = f"http://{options.ip}:{options.ui_port}"
        settings = settings.model_copy(
            update={
                "temporal_address": address,
                "temporal_namespace": "default",
                "temporal_ui_url": ui,
            }
        )
        client = await connect(settings)
        console.print(f"Temporal UI: [bold]{ui}[/bold]")
        console.print(f"Temporal gRPC: {address}, task queue {settings.temporal_task_queue}")
        emulator = _start_emulator(options, console) if use_emulator else None
        try:
            if emulator is not None:
                settings = _using_emulator(settings, emulator)
            else:
                console.print("OpenAI: using OPENAI_API_KEY")
            console.print("Ctrl-C stops everything.")
            await _serve_worker(client, settings, stop, options.demo, console)
        finally:
            if emulator is not None:
                emulator.stop()  # saves its state file
    finally:
        await stop_process(server)


async def _serve_worker(
    client: Client, settings: Settings, stop: asyncio.Event, demo: bool, console: Console
) -> None:
    demo_run = asyncio.create_task(run_demo(client, settings, console)) if demo else None
    try:
        await serve(build_worker(client, settings), stop)
    finally:
        if demo_run is not None:
            demo_run.cancel()


def _ensure_ports_free(options: DevStackOptions, use_emulator: bool) -> None:
    ensure_port_free(options.ip, options.port, "--port")
    ensure_port_free(options.ip, options.ui_port, "--ui-port")
    if use_emulator:
        ensure_port_free(options.ip, options.emulator_port, "--emulator-port")


def _start_emulator(options: DevStackOptions, console: Console) -> BackgroundEmulator:
    """The emulator, with the state it saved when the stack last stopped."""
    from emulator.server import BackgroundEmulator

    state_file = options.emulator_state_file
    try:
        emulator = BackgroundEmulator(
            host=options.ip, port=options.emulator_port, state_file=state_file
        )
    except ValueError as err:
        raise SettingsError(f"{err}: delete it to start the emulator afresh") from None
    emulator.start()
    console.print(f"OpenAI emulator: {emulator.base_url} (OPENAI_API_KEY is not set)")
    console.print(f"Emulator state: {state_file}", markup=False, soft_wrap=True)
    return emulator


def _using_emulator(settings: Settings, emulator: BackgroundEmulator) -> Settings:
    return settings.model_copy(
        update={"openai_base_url": emulator.base_url, "openai_api_key": SecretStr(EMULATOR_API_KEY)}
    )


def require_emulator() -> None:
    """The emulator is a distribution of its own (emulator/): say how to get it."""
    try:
        import emulator.server  # noqa: F401
    except ImportError as err:
        raise SettingsError(
            f"the OpenAI emulator is not installed ({err}): pip install ./emulator from the "
            "repository, or set OPENAI_API_KEY to use OpenAI"
        ) from None
