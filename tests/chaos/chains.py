"""What a run left on the Responses API: its chain of responses, walked back from the last,
checked for repeated user messages and tool outputs; and the orphans, responses its workflow
made that the chain does not hold (a request whose reply a killed worker never read)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from openai import AsyncOpenAI

from workflows.contracts import RunResult


@dataclass
class Chain:
    responses: int
    repeated: int
    """User messages beyond the first, and tool outputs given twice for one call."""


async def chain_of(openai: AsyncOpenAI, result: RunResult) -> Chain:
    """The chain ending at the result's response (a run on a new conversation)."""
    users = 0
    outputs: Counter[str] = Counter()
    responses = 0
    head: str | None = result.thread_id
    while head is not None:
        response = await openai.responses.retrieve(head)
        responses += 1
        async for item in openai.responses.input_items.list(head):
            if item.type == "message" and item.role == "user":
                users += 1
            elif item.type == "function_call_output":
                outputs[str(item.call_id)] += 1
        head = response.previous_response_id
    repeated = max(0, users - 1) + sum(n - 1 for n in outputs.values())
    return Chain(responses=responses, repeated=repeated)


def orphans(
    counters: dict[str, dict[str, int]], workflow_id: str, result: RunResult, chain: Chain
) -> int:
    """Responses the workflow's activities created beyond those of its chain and the one
    each earlier attempt began with."""
    made = counters.get("responses_by_workflow", {}).get(workflow_id, 0)
    return max(0, made - chain.responses - (result.run_attempts - 1))
