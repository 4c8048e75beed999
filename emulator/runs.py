"""Runs and run steps: create (also with a new thread), retrieve, list, modify, cancel,
submit_tool_outputs, and server-sent event streams of all of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator import engine, sse
from emulator.assistants import assistants
from emulator.directives import parse_pairs
from emulator.errors import check_model_exists, not_found
from emulator.http import emulator, json_body, list_page, ok
from emulator.state import Emulator
from emulator.store import Entry, Store
from emulator.thread_data import add_user_message, runs, steps, threads
from emulator.threads import ensure_idle, start_thread

RUN_OPTIONS_HEADER = "x-emulator-run"


async def create(request: Request) -> Response:
    body = await json_body(request, "createRun")
    emu = emulator(request)
    store = emu.store
    thread_id = request.path_params["thread_id"]
    threads(store).get(thread_id)
    assistant = assistants(store).get(body["assistant_id"]).public
    check_model_exists(body.get("model") or assistant.get("model"))
    options = parse_pairs(request.headers.get(RUN_OPTIONS_HEADER, ""))
    ensure_idle(store, thread_id, "run")
    for message in body.get("additional_messages") or []:
        add_user_message(store, thread_id, message)
    entry = engine.create_run(store, thread_id, body, options, emu.config.timings)
    return _stream(emu, entry, 0) if body.get("stream") else ok(entry.public)


async def create_thread_and_run(request: Request) -> Response:
    body = await json_body(request, "createThreadAndRun")
    emu = emulator(request)
    store = emu.store
    assistants(store).get(body["assistant_id"])
    options = parse_pairs(request.headers.get(RUN_OPTIONS_HEADER, ""))
    thread = start_thread(
        store, {**(body.get("thread") or {}), "tool_resources": body.get("tool_resources")}
    )
    entry = engine.create_run(store, thread["id"], body, options, emu.config.timings)
    if not body.get("stream"):
        return ok(entry.public)
    return _stream(emu, entry, 0, prefix=[sse.event("thread.created", thread)])


def _run_of_thread(store: Store, request: Request) -> Entry:
    thread_id = request.path_params["thread_id"]
    run_id = request.path_params["run_id"]
    threads(store).get(thread_id)
    entry = runs(store).get(run_id)
    if entry.public["thread_id"] != thread_id:
        raise not_found("run", run_id)
    engine.advance(store, entry)
    return entry


async def retrieve(request: Request) -> Response:
    emu = emulator(request)
    entry = _run_of_thread(emu.store, request)
    poll_after = emu.config.poll_after_ms
    headers = {} if poll_after is None else {"openai-poll-after-ms": str(poll_after)}
    return ok(entry.public, headers=headers)


async def list_runs(request: Request) -> Response:
    store = emulator(request).store
    thread_id = request.path_params["thread_id"]
    threads(store).get(thread_id)
    engine.advance_thread(store, thread_id)
    return ok(list_page(request, [entry.public for entry in runs(store).of(thread_id)]))


async def modify(request: Request) -> Response:
    body = await json_body(request, "modifyRun")
    entry = _run_of_thread(emulator(request).store, request)
    if body.get("metadata") is not None:
        entry.public["metadata"] = body["metadata"]
    return ok(entry.public)


async def cancel(request: Request) -> Response:
    emu = emulator(request)
    entry = _run_of_thread(emu.store, request)
    engine.cancel(emu.store, entry)
    emu.notify(entry.public["id"])
    return ok(entry.public)


async def submit_tool_outputs(request: Request) -> Response:
    body = await json_body(request, "submitToolOuputsToRun")
    emu = emulator(request)
    entry = _run_of_thread(emu.store, request)
    first_new_event = len(entry.private.events)
    engine.submit_tool_outputs(emu.store, entry, body["tool_outputs"])
    emu.notify(entry.public["id"])
    return _stream(emu, entry, first_new_event) if body.get("stream") else ok(entry.public)


async def list_steps(request: Request) -> Response:
    store = emulator(request).store
    entry = _run_of_thread(store, request)
    return ok(list_page(request, [step.public for step in steps(store).of(entry.public["id"])]))


async def retrieve_step(request: Request) -> Response:
    store = emulator(request).store
    entry = _run_of_thread(store, request)
    step_id = request.path_params["step_id"]
    step = steps(store).get(step_id).public
    if step["run_id"] != entry.public["id"]:
        raise not_found("run step", step_id)
    return ok(step)


def _stream(emu: Emulator, entry: Entry, start: int, prefix: list[bytes] | None = None) -> Response:
    return sse.response(_follow(emu, entry.public["id"], start, prefix or []))


async def _follow(
    emu: Emulator, run_id: str, start: int, prefix: list[bytes]
) -> AsyncIterator[bytes]:
    """The run's events from `start` on, as they happen, until the run is terminal or needs
    tool outputs (a submission with stream=true continues from there)."""
    for chunk in prefix:
        yield chunk
    index = start
    while True:
        entry = runs(emu.store).get(run_id)
        engine.advance(emu.store, entry)
        events = entry.private.events
        while index < len(events):
            name, data = events[index]
            index += 1
            pause = entry.private.durations.get("delta_interval")
            if name == "thread.message.delta" and pause:
                await asyncio.sleep(pause)
            yield data
        status = entry.public["status"]
        if status in engine.TERMINAL or status == "requires_action":
            yield sse.DONE
            return
        await emu.wait_for_change(run_id, engine.next_change_at(entry) - emu.store.clock())


def routes() -> list[BaseRoute]:
    run = "/threads/{thread_id}/runs/{run_id}"
    return [
        Route("/threads/runs", create_thread_and_run, methods=["POST"]),
        Route("/threads/{thread_id}/runs", create, methods=["POST"]),
        Route("/threads/{thread_id}/runs", list_runs, methods=["GET"]),
        Route(run, retrieve, methods=["GET"]),
        Route(run, modify, methods=["POST"]),
        Route(f"{run}/cancel", cancel, methods=["POST"]),
        Route(f"{run}/submit_tool_outputs", submit_tool_outputs, methods=["POST"]),
        Route(f"{run}/steps", list_steps, methods=["GET"]),
        Route(f"{run}/steps/{{step_id}}", retrieve_step, methods=["GET"]),
    ]
