"""The Responses API contenders of `benchmarks.runs_bench`, side by side as A/B/C are on the
Assistants API, with the same tools and the same tool code:

  A'  the SDK's blocking way: responses.create in a loop, each round's function calls run and
      sent back as function_call_output items with previous_response_id
  B'  the same loop on background responses followed on their streams
      (background=True, store=True, stream=True): the lower bound the API allows, no durability
  C'  AssistantRun with backend="responses" and an assistant spec naming the same tools
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from openai import AsyncOpenAI, omit
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseInputParam,
    ResponseOutputItem,
    ToolParam,
)
from temporalio.client import Client

from activities.tools import CallContext, execute, registry
from benchmarks.history_costs import cost_table
from workflows.contracts import RunRequest, ToolCall
from workflows.run.workflow import AssistantRun

MODEL = "gpt-4o"
Respond = Callable[[ResponseInputParam | str, str | None], Awaitable[Response]]


async def function_call_outputs(output: list[ResponseOutputItem]) -> ResponseInputParam:
    """Run the response's function calls with the registered tools; their outputs as items."""
    outputs: ResponseInputParam = []
    for item in output:
        if item.type != "function_call":
            continue
        registered = registry.get(item.name)
        assert registered is not None, item.name
        call = ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
        result = await execute(registered, call, CallContext(item.call_id, "bench", 1))
        outputs.append(
            {"type": "function_call_output", "call_id": item.call_id, "output": result.output}
        )
    return outputs


class ResponsesBench:
    """A', B' and C' on one OpenAI client and one Temporal client (C' on `task_queue`)."""

    def __init__(self, openai: AsyncOpenAI, client: Client, task_queue: str) -> None:
        self.openai = openai
        self.client = client
        self.task_queue = task_queue
        self.tools = cast(list[ToolParam], registry.definitions("responses"))

    def contenders(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        return {"A'": self.blocking, "B'": self.streaming, "C'": self.durable}

    async def blocking(self, text: str) -> None:
        await self._chain(text, self._create)

    async def streaming(self, text: str) -> None:
        await self._chain(text, self._create_and_follow)

    async def durable(self, text: str) -> None:
        result = await self.client.execute_workflow(
            AssistantRun.run,
            self.request(text),
            id=f"bench-responses-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )
        assert result.status == "completed", result.status

    def request(self, text: str) -> RunRequest:
        spec = {"name": "bench", "model": MODEL, "tools": [t.spec.name for t in registry]}
        return RunRequest.model_validate(
            {"backend": "responses", "assistant": spec, "messages": [{"content": text}]}
        )

    async def _chain(self, text: str, respond: Respond) -> None:
        """Respond to `text`, then to each round's function call outputs, until none."""
        response = await respond(text, None)
        while outputs := await function_call_outputs(response.output):
            response = await respond(outputs, response.id)
        assert response.status == "completed", response.status

    async def _create(self, input: ResponseInputParam | str, previous: str | None) -> Response:
        return await self.openai.responses.create(
            model=MODEL, tools=self.tools, input=input, previous_response_id=previous or omit
        )

    async def _create_and_follow(
        self, input: ResponseInputParam | str, previous: str | None
    ) -> Response:
        """A background response, read on its stream until it has ended."""
        ended: Response | None = None
        async with await self.openai.responses.create(
            model=MODEL,
            tools=self.tools,
            input=input,
            previous_response_id=previous or omit,
            background=True,
            store=True,
            stream=True,
        ) as events:
            async for event in events:
                if isinstance(
                    event, ResponseCompletedEvent | ResponseFailedEvent | ResponseIncompleteEvent
                ):
                    ended = event.response
        assert ended is not None, "the stream ended before the response did"
        return ended


def markdown(results: dict[str, Any]) -> list[str]:
    """The Responses API tables: latency per scenario, requests as model time grows, and
    C' history."""
    lines = [
        "### Responses API",
        "",
        "| scenario | A' blocking p50 | B' background + stream p50 | C' durable p50 / p95 "
        "| C'/A' | C'/B' | requests A' / B' / C' | responses A' / B' / C' |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario, row in results["latency"].items():
        a, b, c = (row[k] for k in ("A'", "B'", "C'"))
        lines.append(
            f"| {scenario} | {a['p50']:.2f} s | {b['p50']:.2f} s | {c['p50']:.2f} / "
            f"{c['p95']:.2f} s | {c['p50'] / a['p50']:.2f} | {c['p50'] / b['p50']:.2f} | "
            f"{_triple(a, b, c, 'requests')} | {_triple(a, b, c, 'responses')} |"
        )
    lines += [
        "",
        "| model time per phase | requests A' / B' / C' | latency A' / B' / C' |",
        "|---|---|---|",
    ]
    for seconds, row in results["by_duration"].items():
        a, b, c = (row[k] for k in ("A'", "B'", "C'"))
        lines.append(
            f"| {seconds} s | {_triple(a, b, c, 'requests')} | {a['seconds']:.2f} / "
            f"{b['seconds']:.2f} / {c['seconds']:.2f} s |"
        )
    lines += ["", *cost_table("C'", results["history"])]
    return lines


def _triple(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any], key: str) -> str:
    return f"{a[key]:g} / {b[key]:g} / {c[key]:g}"
