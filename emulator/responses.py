"""Responses: create (waiting, in the background, or streamed), retrieve (also as a resumable
stream), delete, cancel and the input items of each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator import response_engine, sse
from emulator.directives import parse_pairs
from emulator.errors import invalid
from emulator.http import emulator, json_body, list_page, ok
from emulator.response_engine import TERMINAL, responses, stored_response
from emulator.runs import RUN_OPTIONS_HEADER
from emulator.state import Emulator
from emulator.store import Entry

_TEXT_DELTA = "response.output_text.delta"


async def create(request: Request) -> Response:
    body = await json_body(request, "createResponse")
    emu = emulator(request)
    if body.get("background") and body.get("store") is False:
        raise invalid("Background responses must be stored: set store to true.", param="store")
    options = parse_pairs(request.headers.get(RUN_OPTIONS_HEADER, ""))
    entry = response_engine.create_response(emu.store, body, options, emu.config.timings)
    if body.get("stream"):
        return sse.response(_follow(emu, entry, 0))
    if not body.get("background"):
        await _until_done(emu, entry)
    return ok(entry.public)


async def retrieve(request: Request) -> Response:
    emu = emulator(request)
    entry = stored_response(emu.store, request.path_params["response_id"])
    query = request.query_params
    if query.get("stream") == "true":
        if not entry.public["background"]:
            raise invalid("Only responses created with background=true can be streamed again.")
        emu.store.counters.count("response_streams_resumed")
        emu.store.counters.count("response_streams_resumed", entry.public["id"])
        return sse.response(_follow(emu, entry, _starting_after(query.get("starting_after")) + 1))
    poll_after = emu.config.poll_after_ms
    headers = {} if poll_after is None else {"openai-poll-after-ms": str(poll_after)}
    return ok(entry.public, headers=headers)


def _starting_after(raw: str | None) -> int:
    if raw is None:
        return -1
    try:
        return int(raw)
    except ValueError:
        raise invalid(
            f"Invalid type for 'starting_after': expected an integer, but got '{raw}' instead.",
            param="starting_after",
            code="invalid_type",
        ) from None


async def delete(request: Request) -> Response:
    """Deleted; the spec documents this 200 without a body."""
    store = emulator(request).store
    entry = stored_response(store, request.path_params["response_id"])
    responses(store).remove(entry.public["id"])
    return Response(status_code=200)


async def cancel(request: Request) -> Response:
    emu = emulator(request)
    entry = stored_response(emu.store, request.path_params["response_id"])
    response_engine.cancel(emu.store, entry)
    emu.notify(entry.public["id"])
    return ok(entry.public)


async def list_input_items(request: Request) -> Response:
    entry = stored_response(emulator(request).store, request.path_params["response_id"])
    return ok(list_page(request, entry.private.input_items))


async def _until_done(emu: Emulator, entry: Entry) -> None:
    """Wait, on the emulator's clock, until the response is terminal."""
    while True:
        response_engine.advance(emu.store, entry)
        if entry.public["status"] in TERMINAL:
            return
        await _next_change(emu, entry)


async def _follow(emu: Emulator, entry: Entry, start: int) -> AsyncIterator[bytes]:
    """The response's events from sequence number `start` on, as they happen, until it is
    terminal."""
    index = start
    while True:
        response_engine.advance(emu.store, entry)
        events = entry.private.events
        while index < len(events):
            name, data = events[index]
            index += 1
            if name == _TEXT_DELTA and (pause := entry.private.durations.get("delta_interval")):
                await asyncio.sleep(pause)
            yield data
        if entry.public["status"] in TERMINAL:
            return
        await _next_change(emu, entry)


async def _next_change(emu: Emulator, entry: Entry) -> None:
    due = response_engine.next_change_at(entry) - emu.store.clock()
    await emu.wait_for_change(entry.public["id"], due)


def routes() -> list[BaseRoute]:
    response = "/responses/{response_id}"
    return [
        Route("/responses", create, methods=["POST"]),
        Route(response, retrieve, methods=["GET"]),
        Route(response, delete, methods=["DELETE"]),
        Route(f"{response}/cancel", cancel, methods=["POST"]),
        Route(f"{response}/input_items", list_input_items, methods=["GET"]),
    ]
